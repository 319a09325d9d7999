/* progress.c - the transfer progress bar (see progress.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void human(double v, char *out, size_t len)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void rv_progress_init(struct rv_progress *p, const char *label, uint64_t total, int force)
{
	memset(p, 0, sizeof *p);
	p->on = force > 0 || (force == 0 && isatty(STDERR_FILENO));
	p->label = label;
	p->total = total;
	p->start_ms = mono_ms();
}

void rv_progress_line(const struct rv_progress *p, uint64_t bytes, double secs, char *out,
		      size_t len)
{
	double rate = secs > 0 ? (double)bytes / secs : 0;
	char b[32], r[32];
	human((double)bytes, b, sizeof b);
	human(rate, r, sizeof r);
	if (!p->total) {
		snprintf(out, len, "%s %s %s/s", p->label, b, r);
		return;
	}
	int pct = (int)((double)bytes * 100.0 / (double)p->total);
	int width = 24, fill = pct * width / 100;
	char bar[32];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = 0;
	double eta = rate > 0 ? (double)(p->total - (bytes < p->total ? bytes : p->total)) / rate : 0;
	snprintf(out, len, "%s [%s] %3d%% %s %s/s ETA %02d:%02d", p->label, bar, pct, b, r,
		 (int)eta / 60, (int)eta % 60);
}

void rv_progress_update(struct rv_progress *p, uint64_t bytes, int done)
{
	if (!p->on)
		return;
	uint64_t now = mono_ms();
	if (!done && now - p->last_ms < 200)
		return;
	p->last_ms = now;
	char line[160];
	rv_progress_line(p, bytes, (double)(now - p->start_ms) / 1000.0, line, sizeof line);
	fprintf(stderr, "\r%-78.78s%s", line, done ? "\n" : "");
	fflush(stderr);
}
