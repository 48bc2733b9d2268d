#include "plugin/forward.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/json.h"
#include "common/log.h"
#include "plugin/orthanc_io.h"
#include "plugin/rest_common.h"
#include "storage/outbox.h"

#define BACKOFF_FIRST_S 2.0
#define BACKOFF_MAX_S 600.0
#define IDLE_RECHECK_S 30.0     /* also picks up rows that another process of this database queued */
#define MAX_ANSWER_BYTES 65536  /* a STOW answer for one instance is small; keep no more */
#define MAX_REST_INSTANCES 1000
#define MAX_ERROR 1024

struct ms_forwarder {
	ms_plugin *plugin;
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool woken; /* a wake arrived while the thread was busy: look again before sleeping */
	pthread_t thread;
	bool started;
	uint64_t boundary_seed;
};

static bool curl_ready;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- process set-up ------------------------------------------------------------------------ */

ms_status ms_forward_init(ms_store *db)
{
	if (!curl_ready) {
		CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
		if (c != CURLE_OK) {
			ms_log_error("libcurl cannot initialise: %s", curl_easy_strerror(c));
			return MS_ERR_IO;
		}
		curl_ready = true;
	}
	return ms_outbox_recover(db, NULL);
}

void ms_forward_cleanup(void)
{
	if (!curl_ready)
		return;
	curl_global_cleanup();
	curl_ready = false;
}

/* ---- one STOW-RS request ------------------------------------------------------------------- */

typedef struct {
	ms_strbuf answer;
	atomic_bool *stop;
} transfer;

static size_t on_answer(char *data, size_t size, size_t n, void *arg)
{
	transfer *t = arg;
	size_t bytes = size * n;
	if (t->answer.len < MAX_ANSWER_BYTES)
		ms_strbuf_appendn(&t->answer, data, bytes < MAX_ANSWER_BYTES - t->answer.len ? bytes
											: MAX_ANSWER_BYTES - t->answer.len);
	return bytes;
}

/* libcurl calls this about once a second even while waiting: it is how a shutdown interrupts a
 * send that would otherwise last up to TimeoutSeconds. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	transfer *t = arg;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(t->stop) ? 1 : 0;
}

/* Copies at most 200 bytes of text to out on one line, for error messages. */
static void snippet(const char *text, size_t len, char *out, size_t size)
{
	size_t n = len < 200 ? len : 200, k = 0;
	for (size_t i = 0; i < n && k + 1 < size; i++) {
		unsigned char c = (unsigned char)text[i];
		out[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	out[k] = '\0';
	if (len > n && k + 4 < size)
		snprintf(out + k, size - k, "...");
}

/* A hint for the HTTP statuses an administrator meets when a destination is misconfigured. */
static const char *status_text(long status)
{
	switch (status) {
	case 400:
		return " (Bad Request)";
	case 401:
		return " (Unauthorized: check Username/Password or BearerToken)";
	case 403:
		return " (Forbidden)";
	case 404:
		return " (Not Found: check that Url is the DICOMweb root)";
	case 405:
		return " (Method Not Allowed: check that Url is the DICOMweb root)";
	case 409:
		return " (Conflict: the server stored none of the instances)";
	case 413:
		return " (Payload Too Large)";
	case 415:
		return " (Unsupported Media Type)";
	case 429:
		return " (Too Many Requests)";
	case 500:
		return " (Internal Server Error)";
	case 502:
		return " (Bad Gateway)";
	case 503:
		return " (Service Unavailable)";
	case 504:
		return " (Gateway Timeout)";
	default:
		return "";
	}
}

/* Meaning of a STOW-RS Failure Reason (PS3.18 table 10.5.3-1), or NULL. */
static const char *failure_reason_text(unsigned code)
{
	switch (code) {
	case 0x0110:
		return "processing failure";
	case 0x0122:
		return "SOP Class not supported";
	case 0x0124:
		return "not authorized";
	case 0xA700:
		return "out of resources";
	case 0xA900:
		return "data set does not match SOP Class";
	case 0xC000:
		return "cannot understand";
	case 0xC122:
		return "referenced Transfer Syntax not supported";
	default:
		return NULL;
	}
}

/* Value[0] of a DICOM JSON attribute of item, as a number (FailureReason, US). */
static bool dicom_json_number(const ms_json *item, const char *tag, unsigned *out)
{
	const ms_json *v = ms_json_at(ms_json_get(ms_json_get(item, tag), "Value"), 0);
	if (!ms_json_is_number(v) || ms_json_number(v) < 0 || ms_json_number(v) > 65535)
		return false;
	*out = (unsigned)ms_json_number(v);
	return true;
}

/* Judges a STOW-RS answer: 200 is success unless the answer lists the instance in its Failed SOP
 * Sequence; 202 ("stored with warnings or failures") is success only without failures; anything
 * else is a failure described by its status and the start of its body. */
static ms_status check_answer(long status, const ms_strbuf *answer, const char *url, char *err, size_t errlen)
{
	char text[256];
	const char *body = answer->data ? answer->data : "";

	if (status != 200 && status != 202) {
		snippet(body, answer->len, text, sizeof(text));
		snprintf(err, errlen, "HTTP %ld%s from %.400s%s%s", status, status_text(status), url,
			 text[0] ? ": " : "", text);
		return MS_ERR_IO;
	}
	ms_json *doc = NULL;
	char perr[64];
	if (ms_json_parse(body, answer->len, &doc, perr, sizeof(perr)) != MS_OK) {
		/* Some servers answer XML or nothing; the status alone says it was stored. */
		if (status == 202) {
			snprintf(err, errlen, "HTTP 202 from %.400s without a readable answer: the instance may not have "
					      "been stored",
				 url);
			return MS_ERR_IO;
		}
		return MS_OK;
	}
	const ms_json *failed = ms_json_get(ms_json_get(doc, "00081198"), "Value");
	ms_status rc = MS_OK;
	if (ms_json_size(failed)) {
		unsigned code = 0;
		const char *meaning = NULL;
		if (dicom_json_number(ms_json_at(failed, 0), "00081197", &code)) {
			meaning = failure_reason_text(code);
			snprintf(err, errlen, "%.400s refused the instance (HTTP %ld, Failed SOP Sequence): failure reason "
					      "0x%04X%s%s%s",
				 url, status, code, meaning ? " (" : "", meaning ? meaning : "", meaning ? ")" : "");
		} else {
			snprintf(err, errlen, "%.400s refused the instance (HTTP %ld, Failed SOP Sequence without a reason)",
				 url, status);
		}
		rc = MS_ERR_IO;
	} else if (status == 202) {
		unsigned code = 0;
		if (dicom_json_number(doc, "00081196", &code))
			ms_log_warning("%s stored the instance with warning 0x%04X", url, code);
	}
	ms_json_destroy(doc);
	return rc;
}

/* A boundary that does not occur in the data (RFC 2046 delimiters must not appear in a part). */
static void make_boundary(ms_forwarder *f, const void *data, size_t size, char *out, size_t n)
{
	do {
		/* splitmix64 step: cheap, and uniqueness is all that matters */
		uint64_t z = (f->boundary_seed += 0x9E3779B97F4A7C15ull);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		z ^= z >> 31;
		snprintf(out, n, "MedSight-%016llx", (unsigned long long)z);
	} while (memmem(data, size, out, strlen(out)));
}

/* POSTs one DICOM instance to <d->url>/studies as multipart/related. MS_OK once stored;
 * MS_ERR_CANCELLED when a shutdown interrupted it; MS_ERR_IO (message in err) otherwise. */
static ms_status stow(ms_forwarder *f, CURL *curl, const ms_forward_dest *d, const void *dicom, size_t size,
		      char *err, size_t errlen)
{
	char boundary[64], url[2048], ctype[128], curl_err[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL, *h;
	ms_strbuf body;
	transfer t = { .stop = &f->stop };
	ms_status rc;

	ms_strbuf_init(&body);
	ms_strbuf_init(&t.answer);
	snprintf(url, sizeof(url), "%s/studies", d->url);
	make_boundary(f, dicom, size, boundary, sizeof(boundary));
	ms_strbuf_appendf(&body, "--%s\r\nContent-Type: application/dicom\r\n\r\n", boundary);
	ms_strbuf_appendn(&body, dicom, size);
	ms_strbuf_appendf(&body, "\r\n--%s--\r\n", boundary);
	if (body.failed) {
		snprintf(err, errlen, "out of memory building the STOW-RS request (%zu bytes)", size);
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	snprintf(ctype, sizeof(ctype), "Content-Type: multipart/related; type=\"application/dicom\"; boundary=%s",
		 boundary);
	/* "Expect:" (empty) stops libcurl from waiting for 100-continue on bodies over 1 MB, which
	 * Orthanc answers only after a one-second timeout. */
	const char *lines[] = { ctype, "Accept: application/dicom+json", "Expect:" };
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		h = curl_slist_append(headers, lines[i]);
		if (!h) {
			snprintf(err, errlen, "out of memory building the STOW-RS request");
			rc = MS_ERR_NOMEM;
			goto out_free;
		}
		headers = h;
	}

	curl_easy_reset(curl); /* keeps the connection cache: a busy destination reuses its socket */
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "MedSight/" MS_VERSION);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)d->timeout_s);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)(d->timeout_s < 30 ? d->timeout_s : 30));
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, d->verify_peer ? 1L : 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, d->verify_peer ? 2L : 0L);
	if (d->ca_certificate)
		curl_easy_setopt(curl, CURLOPT_CAINFO, d->ca_certificate);
	if (d->username) {
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(curl, CURLOPT_USERNAME, d->username);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, d->password);
	} else if (d->bearer_token) {
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, d->bearer_token);
	}
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);

	CURLcode c = curl_easy_perform(curl);
	if (c == CURLE_ABORTED_BY_CALLBACK && atomic_load(&f->stop)) {
		rc = MS_ERR_CANCELLED;
	} else if (c != CURLE_OK) {
		snprintf(err, errlen, "cannot send to %.400s: %.400s", url, curl_err[0] ? curl_err : curl_easy_strerror(c));
		rc = MS_ERR_IO;
	} else {
		long status = 0;
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		rc = check_answer(status, &t.answer, url, err, errlen);
	}
	/* The handle must not keep pointers to this frame's buffers. */
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
out_free:
	curl_slist_free_all(headers);
	ms_strbuf_free(&t.answer);
	ms_strbuf_free(&body);
	return rc;
}

/* ---- the thread ---------------------------------------------------------------------------- */

static double backoff_s(int attempts)
{
	double d = BACKOFF_FIRST_S;
	for (int i = 1; i < attempts && d < BACKOFF_MAX_S; i++)
		d *= 2;
	return d < BACKOFF_MAX_S ? d : BACKOFF_MAX_S;
}

/* Records the outcome of a send; a generation that moved on (re-queued meanwhile) is normal. */
static void record(ms_status rc, const char *what, const ms_outbox_item *it)
{
	if (rc != MS_OK && rc != MS_ERR_STATE)
		ms_log_error("could not record that forward %lld %s (%s)", (long long)it->id, what, ms_status_name(rc));
}

/* Sends one claimed row and records what happened. */
static void send_row(ms_forwarder *f, ms_store *db, CURL *curl, const ms_outbox_item *it)
{
	ms_plugin *p = f->plugin;
	const ms_forward_dest *d = ms_config_forward_find(&p->config, it->destination);
	char err[MAX_ERROR] = "", msg[MAX_ERROR + 64];
	OrthancPluginMemoryBuffer dicom = { 0 };
	ms_status rc;

	if (!d) {
		snprintf(err, sizeof(err), "destination '%s' is no longer in MedSight.Forward", it->destination);
		record(ms_outbox_fail(db, it->id, it->generation, err), "failed", it);
		ms_log_warning("forward of instance %s: %s", it->instance_id, err);
		return;
	}
	if (it->attempts > d->max_attempts) {
		/* Only after a crash or kill during the last allowed attempt. */
		snprintf(err, sizeof(err), "interrupted during attempt %d of %d (Orthanc stopped); giving up",
			 it->attempts - 1, d->max_attempts);
		record(ms_outbox_fail(db, it->id, it->generation, err), "failed", it);
		ms_log_error("forward of instance %s to %s failed: %s", it->instance_id, d->name, err);
		return;
	}
	OrthancPluginErrorCode code = OrthancPluginGetDicomForInstance(p->ctx, &dicom, it->instance_id);
	if (code == OrthancPluginErrorCode_UnknownResource) {
		snprintf(err, sizeof(err), "instance %s is no longer in Orthanc", it->instance_id);
		record(ms_outbox_fail(db, it->id, it->generation, err), "failed", it);
		ms_log_warning("forward to %s: %s", d->name, err);
		return;
	}
	if (code != OrthancPluginErrorCode_Success) {
		snprintf(err, sizeof(err), "cannot read instance %s from Orthanc: %s", it->instance_id,
			 OrthancPluginGetErrorDescription(p->ctx, code));
		rc = MS_ERR_IO;
	} else {
		double t0 = now_s();
		rc = stow(f, curl, d, dicom.data, dicom.size, err, sizeof(err));
		if (rc == MS_OK)
			ms_log_info("forwarded instance %s (%.1f kB) to %s in %.0f ms (attempt %d)", it->instance_id,
				    dicom.size / 1024.0, d->name, (now_s() - t0) * 1000, it->attempts);
		OrthancPluginFreeMemoryBuffer(p->ctx, &dicom);
	}
	if (rc == MS_OK) {
		record(ms_outbox_done(db, it->id, it->generation), "is done", it);
	} else if (rc == MS_ERR_CANCELLED) {
		record(ms_outbox_release(db, it->id, it->generation), "was interrupted", it);
	} else if (it->attempts >= d->max_attempts) {
		snprintf(msg, sizeof(msg), "gave up after %d attempt%s: %s", it->attempts, it->attempts > 1 ? "s" : "",
			 err);
		record(ms_outbox_fail(db, it->id, it->generation, msg), "failed", it);
		ms_log_error("forward of instance %s to %s failed: %s", it->instance_id, d->name, msg);
	} else {
		double delay = backoff_s(it->attempts);
		record(ms_outbox_retry_later(db, it->id, it->generation, now_s() + delay, err), "will be retried", it);
		ms_log_warning("forward of instance %s to %s failed (attempt %d of %d, next in %.0f s): %s",
			       it->instance_id, d->name, it->attempts, d->max_attempts, delay, err);
	}
}

/* Sleeps until due (unix seconds), a wake or the stop flag. */
static void wait_until(ms_forwarder *f, double due)
{
	struct timespec until;
	double whole;
	double frac = modf(due, &whole);

	until.tv_sec = (time_t)whole;
	until.tv_nsec = (long)(frac * 1e9);
	pthread_mutex_lock(&f->lock);
	while (!f->woken && !atomic_load(&f->stop)) {
		if (pthread_cond_timedwait(&f->wake, &f->lock, &until) == ETIMEDOUT)
			break;
	}
	f->woken = false;
	pthread_mutex_unlock(&f->lock);
}

static void *forward_main(void *arg)
{
	ms_forwarder *f = arg;
	ms_store *db = NULL;
	CURL *curl = NULL;

	if (ms_store_open(f->plugin->config.database, &db) != MS_OK) {
		ms_log_error("the forwarding thread cannot open %s; nothing is forwarded", f->plugin->config.database);
		return NULL;
	}
	curl = curl_easy_init();
	if (!curl) {
		ms_log_error("libcurl cannot create a handle; nothing is forwarded");
		goto out_close;
	}
	while (!atomic_load(&f->stop)) {
		ms_outbox_item it;
		double now = now_s();
		ms_status rc = ms_outbox_claim(db, now, &it);
		if (rc == MS_OK) {
			send_row(f, db, curl, &it);
			ms_outbox_item_clear(&it);
			continue;
		}
		double due = now + IDLE_RECHECK_S, next;
		if (rc != MS_ERR_NOTFOUND)
			due = now + 1; /* database busy or failing: logged; try again soon */
		else if (ms_outbox_next_due(db, &next) == MS_OK && next < due)
			due = next;
		wait_until(f, due);
	}
	curl_easy_cleanup(curl);
out_close:
	ms_store_close(db);
	return NULL;
}

ms_status ms_forward_start(ms_plugin *p, ms_forwarder **out)
{
	*out = NULL;
	ms_forwarder *f = ms_calloc(1, sizeof(*f));
	if (!f)
		return MS_ERR_NOMEM;
	f->plugin = p;
	atomic_init(&f->stop, false);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	f->boundary_seed = (uint64_t)(now_s() * 1e6) ^ (uint64_t)(uintptr_t)f;
	if (pthread_create(&f->thread, NULL, forward_main, f) != 0) {
		ms_log_error("cannot start the forwarding thread");
		ms_forward_stop(f);
		return MS_ERR_NOMEM;
	}
	f->started = true;
	ms_log_info("forwarding thread started (%zu destination%s)", p->config.n_forward,
		    p->config.n_forward == 1 ? "" : "s");
	*out = f;
	return MS_OK;
}

void ms_forward_stop(ms_forwarder *f)
{
	if (!f)
		return;
	atomic_store(&f->stop, true);
	ms_forward_wake(f);
	if (f->started)
		pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	ms_free(f);
}

void ms_forward_wake(ms_forwarder *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->woken = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

ms_status ms_forward_enqueue(ms_plugin *p, ms_store *db, int64_t job_id, const char *instance_id)
{
	if (!p || !db || !instance_id || !instance_id[0] || job_id < 0)
		return MS_ERR_ARG;
	double now = now_s();
	for (size_t i = 0; i < p->config.n_forward; i++) {
		ms_status rc = ms_outbox_add(db, job_id, instance_id, p->config.forward[i].name, now, NULL);
		if (rc != MS_OK)
			return rc;
	}
	if (p->config.n_forward)
		ms_forward_wake(p->forwarder);
	return MS_OK;
}

/* ---- REST ---------------------------------------------------------------------------------- */

/* One outbox row as JSON; full adds ID, Job and the timestamps (GET /medsight/forward). */
static void append_row(ms_strbuf *b, const ms_outbox_item *it, bool full)
{
	ms_strbuf_append(b, "{");
	if (full) {
		ms_strbuf_appendf(b, "\"ID\": %lld, \"Job\": ", (long long)it->id);
		if (it->job_id)
			ms_strbuf_appendf(b, "%lld", (long long)it->job_id);
		else
			ms_strbuf_append(b, "null");
		ms_strbuf_append(b, ", ");
	}
	ms_strbuf_append(b, "\"Destination\": ");
	ms_strbuf_append_json_string(b, it->destination);
	ms_strbuf_append(b, ", \"Instance\": ");
	ms_strbuf_append_json_string(b, it->instance_id);
	ms_strbuf_append(b, ", \"State\": ");
	ms_strbuf_append_json_string(b, ms_outbox_state_name(it->state));
	ms_strbuf_appendf(b, ", \"Attempts\": %d, \"Error\": ", it->attempts);
	ms_strbuf_append_json_string(b, it->last_error);
	ms_rest_append_time(b, "NextAttemptAt", it->state == MS_OUTBOX_PENDING ? it->next_attempt_at : 0);
	if (full) {
		ms_rest_append_time(b, "CreatedAt", it->created);
		ms_rest_append_time(b, "FinishedAt", it->finished);
	}
	ms_strbuf_append(b, "}");
}

void ms_forward_append_job(ms_plugin *p, int64_t job_id, ms_strbuf *b)
{
	ms_store *db = NULL;
	ms_outbox_item *items = NULL;
	size_t n = 0;

	ms_strbuf_append(b, ", \"Forward\": ");
	if (ms_db_pool_get(p->db, &db) != MS_OK) {
		ms_strbuf_append(b, "null");
		return;
	}
	ms_status rc = ms_outbox_list(db, job_id, 1000, &items, &n);
	ms_db_pool_put(p->db, db);
	if (rc != MS_OK) {
		ms_strbuf_append(b, "null");
		return;
	}
	ms_strbuf_append(b, "[");
	for (size_t i = n; i-- > 0;) { /* the list is newest first; a job reads best in its own order */
		append_row(b, &items[i], false);
		ms_strbuf_append(b, i ? ", " : "");
	}
	ms_strbuf_append(b, "]");
	ms_outbox_free_list(items, n);
}

/* Parses a decimal query argument within [lo, hi]; false if it is anything else. */
static bool parse_arg(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void get_outbox(ms_plugin *p, OrthancPluginRestOutput *out, const OrthancPluginHttpRequest *req)
{
	const char *job_arg = ms_rest_arg(req, "job"), *limit_arg = ms_rest_arg(req, "limit");
	long long job = -1, limit = 100;
	ms_outbox_item *items = NULL;
	size_t n = 0;
	ms_store *db = NULL;

	if (job_arg && !parse_arg(job_arg, 0, INT64_MAX, &job)) {
		ms_orthanc_answer_error(p->ctx, out, 400, "job must be a job id, or 0 for re-sends by an administrator, "
							  "not '%s'",
					job_arg);
		return;
	}
	if (limit_arg && !parse_arg(limit_arg, 1, 1000, &limit)) {
		ms_orthanc_answer_error(p->ctx, out, 400, "limit must be an integer from 1 to 1000, not '%s'", limit_arg);
		return;
	}
	if (ms_db_pool_get(p->db, &db) != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "MedSight database unavailable");
		return;
	}
	ms_status rc = ms_outbox_list(db, job, (int)limit, &items, &n);
	ms_db_pool_put(p->db, db);
	if (rc != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "cannot read the forwarding outbox (%s)", ms_status_name(rc));
		return;
	}
	ms_strbuf b;
	ms_strbuf_init(&b);
	ms_strbuf_append(&b, "[");
	for (size_t i = 0; i < n; i++) {
		ms_strbuf_append(&b, i ? ",\n " : "");
		append_row(&b, &items[i], true);
	}
	ms_strbuf_append(&b, "]\n");
	ms_outbox_free_list(items, n);
	ms_orthanc_answer_json(p->ctx, out, &b);
}

/* Checks the body {"Instances": ["<orthanc instance id>", ...]}; err says what is wrong. */
static bool parse_post_body(const OrthancPluginHttpRequest *req, ms_json **body, const ms_json **ids, char *err,
			    size_t errlen)
{
	char perr[256];

	if (ms_json_parse(req->body, req->bodySize, body, perr, sizeof(perr)) != MS_OK) {
		snprintf(err, errlen, "body is not valid JSON: %s", perr);
		return false;
	}
	if (ms_json_type_of(*body) != MS_JSON_OBJECT) {
		snprintf(err, errlen, "body must be a JSON object like {\"Instances\": [\"<orthanc instance id>\"]}");
		return false;
	}
	for (size_t i = 0; i < ms_json_size(*body); i++) {
		if (strcmp(ms_json_key_at(*body, i), "Instances") != 0) {
			snprintf(err, errlen, "unknown key '%s' (allowed: Instances)", ms_json_key_at(*body, i));
			return false;
		}
	}
	*ids = ms_json_get(*body, "Instances");
	if (ms_json_type_of(*ids) != MS_JSON_ARRAY || !ms_json_size(*ids) ||
	    ms_json_size(*ids) > MAX_REST_INSTANCES) {
		snprintf(err, errlen, "\"Instances\" must be an array of 1 to %d Orthanc instance ids",
			 MAX_REST_INSTANCES);
		return false;
	}
	for (size_t i = 0; i < ms_json_size(*ids); i++) {
		const char *id = ms_json_string(ms_json_at(*ids, i));
		if (!id || !id[0] || strlen(id) > 64 || strchr(id, '/')) {
			snprintf(err, errlen, "\"Instances\"[%zu] is not an Orthanc instance id", i);
			return false;
		}
	}
	return true;
}

/* Re-sends instances to every destination: all are checked first, so a typo queues nothing. */
static void post_forward(ms_plugin *p, OrthancPluginRestOutput *out, const OrthancPluginHttpRequest *req)
{
	ms_json *body = NULL;
	const ms_json *ids = NULL;
	ms_store *db = NULL;
	char err[512], uri[128];
	ms_status rc = MS_OK;

	if (!parse_post_body(req, &body, &ids, err, sizeof(err))) {
		ms_orthanc_answer_error(p->ctx, out, 400, "%s", err);
		goto out_free;
	}
	if (!p->config.n_forward) {
		ms_orthanc_answer_error(p->ctx, out, 409, "MedSight.Forward lists no DICOMweb server: nothing to "
							  "forward to");
		goto out_free;
	}
	for (size_t i = 0; i < ms_json_size(ids); i++) {
		const char *id = ms_json_string(ms_json_at(ids, i));
		ms_json *inst = NULL;
		snprintf(uri, sizeof(uri), "/instances/%s", id);
		rc = ms_orthanc_get_json(p->ctx, uri, &inst);
		ms_json_destroy(inst);
		if (rc == MS_ERR_NOTFOUND) {
			ms_orthanc_answer_error(p->ctx, out, 404, "no instance '%s' in Orthanc", id);
			goto out_free;
		}
		if (rc != MS_OK) {
			ms_orthanc_answer_error(p->ctx, out, 500, "cannot read instance '%s' (%s)", id, ms_status_name(rc));
			goto out_free;
		}
	}
	if (ms_db_pool_get(p->db, &db) != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "MedSight database unavailable");
		goto out_free;
	}
	for (size_t i = 0; i < ms_json_size(ids) && rc == MS_OK; i++)
		rc = ms_forward_enqueue(p, db, 0, ms_json_string(ms_json_at(ids, i)));
	ms_db_pool_put(p->db, db);
	if (rc != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "cannot queue the forward (%s)", ms_status_name(rc));
		goto out_free;
	}
	ms_log_info("an administrator queued %zu instance(s) for %zu destination(s)", ms_json_size(ids),
		    p->config.n_forward);
	ms_strbuf b;
	ms_strbuf_init(&b);
	ms_strbuf_append(&b, "{\"Instances\": ");
	ms_json_write(&b, ids);
	ms_strbuf_append(&b, ", \"Destinations\": [");
	for (size_t i = 0; i < p->config.n_forward; i++) {
		ms_strbuf_append(&b, i ? ", " : "");
		ms_strbuf_append_json_string(&b, p->config.forward[i].name);
	}
	ms_strbuf_append(&b, "]}\n");
	ms_orthanc_answer_json(p->ctx, out, &b);
out_free:
	ms_json_destroy(body);
}

static OrthancPluginErrorCode on_forward(OrthancPluginRestOutput *out, const char *url,
					 const OrthancPluginHttpRequest *req)
{
	ms_plugin *p = ms_plugin_get();
	(void)url;
	if (req->method == OrthancPluginHttpMethod_Get)
		get_outbox(p, out, req);
	else if (req->method == OrthancPluginHttpMethod_Post)
		post_forward(p, out, req);
	else
		OrthancPluginSendMethodNotAllowed(p->ctx, out, "GET,POST");
	return OrthancPluginErrorCode_Success;
}

void ms_forward_register_rest(ms_plugin *p)
{
	OrthancPluginRegisterRestCallback(p->ctx, "/medsight/forward", on_forward);
}
