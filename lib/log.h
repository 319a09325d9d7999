/* log.h - library logging through a callback.
 *
 * The library never prints. It hands each line to the callback set with
 * rv_log_set(); the level is checked before anything is formatted. */
#ifndef RV_LOG_H
#define RV_LOG_H

enum rv_log_level { RV_LOG_ERROR, RV_LOG_WARN, RV_LOG_INFO, RV_LOG_DEBUG };

typedef void (*rv_log_fn)(enum rv_log_level level, const char *line, void *ud);

/* rv_log_set - route log lines at or below LEVEL to FN (NULL: discard). */
void rv_log_set(enum rv_log_level level, rv_log_fn fn, void *ud);

extern enum rv_log_level rv__log_level;
extern rv_log_fn rv__log_fn;

void rv__log(enum rv_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define rv_log(level, ...) \
	do { \
		if (rv__log_fn && (level) <= rv__log_level) \
			rv__log((level), __VA_ARGS__); \
	} while (0)
#define rv_error(...) rv_log(RV_LOG_ERROR, __VA_ARGS__)
#define rv_warn(...) rv_log(RV_LOG_WARN, __VA_ARGS__)
#define rv_info(...) rv_log(RV_LOG_INFO, __VA_ARGS__)
#define rv_debug(...) rv_log(RV_LOG_DEBUG, __VA_ARGS__)

#endif
