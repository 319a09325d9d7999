/* log.c - the logging callback. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

enum rv_log_level rv__log_level = RV_LOG_WARN;
rv_log_fn rv__log_fn;
static void *log_ud;

void rv_log_set(enum rv_log_level level, rv_log_fn fn, void *ud)
{
	rv__log_level = level;
	rv__log_fn = fn;
	log_ud = ud;
}

void rv__log(enum rv_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (rv__log_fn)
		rv__log_fn(level, line, log_ud);
}
