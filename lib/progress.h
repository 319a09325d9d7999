/* progress.h - the transfer progress bar of rvsend and rvrecv: a CLI
 * helper, like cli.h, and with lib/cli.c the only part of the library that
 * prints (on stderr, registered in scripts/checksrc.allow). The bar's text
 * comes from rv_progress_line, which does no I/O. */
#ifndef RV_PROGRESS_H
#define RV_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct rv_progress {
	int on;                     /* drawing at all */
	const char *label;          /* borrowed: outlives the bar */
	uint64_t total;             /* 0: unknown */
	uint64_t start_ms, last_ms;
};

/* rv_progress_init - a bar for LABEL and TOTAL bytes (0: unknown), drawn
 * when FORCE > 0, or when FORCE is 0 and stderr is a terminal. */
void rv_progress_init(struct rv_progress *p, const char *label, uint64_t total, int force);
/* rv_progress_line - the bar's text after BYTES in SECS seconds, into OUT
 * (LEN bytes): "LABEL [####....]  42% 1.2 MiB 300.0 KiB/s ETA 00:05" with
 * a total, "LABEL 1.2 MiB 300.0 KiB/s" without. */
void rv_progress_line(const struct rv_progress *p, uint64_t bytes, double secs, char *out,
		      size_t len);
/* rv_progress_update - redraw on stderr at most 5 times a second, and
 * always when DONE (then ending the line). */
void rv_progress_update(struct rv_progress *p, uint64_t bytes, int done);

#endif
