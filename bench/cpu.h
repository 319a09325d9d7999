/* cpu.h - CPU time for the load generators (header only: each bench .c file is one program).
 *
 * bench_proc_cpu(PID): utime+stime of process PID, every thread included, in seconds, from
 * /proc/PID/stat (clock ticks: 10 ms steps at 100 Hz); -1 when unknown.
 * bench_self_cpu(): this process's user+system time in seconds (getrusage). */
#ifndef RV_BENCH_CPU_H
#define RV_BENCH_CPU_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static inline double bench_proc_cpu(int pid)
{
	char path[64], buf[2048];
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');	/* comm may contain spaces */
	unsigned long ut = 0, st = 0;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static inline double bench_self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

#endif
