/* xfer.c - safe names, hex digests, progress bars. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xfer.h"

void rv_safe_name(const char *name, char *out, size_t outlen)
{
	const char *base = name;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	size_t n = 0, max = outlen - 1 < RV_XFER_NAME_MAX ? outlen - 1 : RV_XFER_NAME_MAX;
	for (const unsigned char *p = (const unsigned char *)base; *p && n < max; p++)
		out[n++] = *p < 0x20 || *p == 0x7f ? '_' : (char)*p;
	/* Cut a multi-byte UTF-8 sequence the cap split. */
	if (n == max && base[n]) {
		size_t k = n;
		while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
			k--;
		if (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0xC0)
			n = k - 1;
	}
	out[n] = 0;
	if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		snprintf(out, outlen, "file");
}

void rv_numbered_name(const char *name, unsigned n, char *out, size_t outlen)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name)	/* no extension, or a dot file */
		dot = name + strlen(name);
	snprintf(out, outlen, "%.*s (%u)%s", (int)(dot - name), name, n, dot);
}

void rv_hex(const uint8_t *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = 0;
}

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

void rv_progress_update(struct rv_progress *p, uint64_t bytes, int done)
{
	if (!p->on)
		return;
	uint64_t now = mono_ms();
	if (!done && now - p->last_ms < 200)
		return;
	p->last_ms = now;
	double secs = (double)(now - p->start_ms) / 1000.0;
	double rate = secs > 0 ? (double)bytes / secs : 0;
	char b[32], r[32], line[160];
	human((double)bytes, b, sizeof b);
	human(rate, r, sizeof r);
	if (p->total) {
		int pct = (int)((double)bytes * 100.0 / (double)p->total);
		int width = 24, fill = pct * width / 100;
		char bar[32];
		for (int i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[width] = 0;
		double eta = rate > 0 ? (double)(p->total - (bytes < p->total ? bytes : p->total)) / rate : 0;
		snprintf(line, sizeof line, "%s [%s] %3d%% %s %s/s ETA %02d:%02d", p->label, bar, pct,
			 b, r, (int)eta / 60, (int)eta % 60);
	} else {
		snprintf(line, sizeof line, "%s %s %s/s", p->label, b, r);
	}
	fprintf(stderr, "\r%-78.78s%s", line, done ? "\n" : "");
	fflush(stderr);
}
