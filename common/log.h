/* Logging that the compute/storage layers can use without knowing Orthanc.
 * The plugin routes it to OrthancPluginLog*; tests leave the default stderr sink. */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MS_LOG_ERROR = 0, MS_LOG_WARNING = 1, MS_LOG_INFO = 2 } ms_log_level;

typedef void (*ms_log_sink)(ms_log_level level, const char *message);

/* Replaces the sink (NULL restores stderr). Call before any thread logs. */
void ms_log_set_sink(ms_log_sink sink);

/* Formats a message (prefixed "MedSight: ") and sends it to the sink. Thread-safe if the sink is. */
void ms_log(ms_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ms_log_error(...) ms_log(MS_LOG_ERROR, __VA_ARGS__)
#define ms_log_warning(...) ms_log(MS_LOG_WARNING, __VA_ARGS__)
#define ms_log_info(...) ms_log(MS_LOG_INFO, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
