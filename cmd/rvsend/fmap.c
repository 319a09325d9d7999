/* fmap.c - a regular file's bytes through a mapping, for data and file.
 *
 * Sent from a mapping, a chunk is copied once, by the socket write, from
 * the page cache: no pread into a buffer first (a third less CPU for
 * rvsend, which shares a core with rvrecv in bench/xfer.sh). A window of
 * FMAP_WINDOW bytes is mapped at a time, read-only and read ahead
 * sequentially; the bytes fmap_at returns are valid until the next fmap_at
 * or fmap_close.
 *
 * A file cut shorter while it is mapped cannot be read past its new end:
 * the kernel's copy then fails (the write errs with EFAULT, and the caller
 * finds the file shrank), and a copy in this process (the part of a chunk
 * the socket did not take, queued) raises SIGBUS, which fmap turns into the
 * same error message and exit code 1 (RV_EXIT_FAIL): half a frame is gone,
 * and nothing else can be done with the connection. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rvsend.h"

#define FMAP_WINDOW (64u << 20)

static char bus_msg[256];
static size_t bus_len;

static void on_sigbus(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, bus_msg, bus_len) < 0) {
		/* nothing more to say */
	}
	_exit(RV_EXIT_FAIL);
}

const uint8_t *fmap_at(struct fmap *m, int fd, uint64_t off, size_t n, uint64_t size, const char *name)
{
	if (off + n > size)
		return NULL;
	if (m->base && off >= m->off && off + n <= m->off + m->len)
		return m->base + (off - m->off);
	fmap_close(m);
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = off - off % page;
	size_t len = size - start < FMAP_WINDOW ? (size_t)(size - start) : FMAP_WINDOW;
	if (off + n > start + len)
		return NULL;	/* a chunk larger than the window: read it */
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)start);
	if (p == MAP_FAILED)
		return NULL;	/* a file that cannot be mapped: read it */
	madvise(p, len, MADV_SEQUENTIAL);
	int n_msg = snprintf(bus_msg, sizeof bus_msg, "rvsend: %s: read: the file shrank while being sent\n", name);
	bus_len = n_msg < 0 ? 0 : (size_t)n_msg < sizeof bus_msg ? (size_t)n_msg : sizeof bus_msg - 1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	m->base = p;
	m->off = start;
	m->len = len;
	return m->base + (off - start);
}

void fmap_close(struct fmap *m)
{
	if (m->base) {
		munmap(m->base, m->len);
		signal(SIGBUS, SIG_DFL);	/* another SIGBUS is no file of ours */
	}
	m->base = NULL;
	m->off = 0;
	m->len = 0;
}
