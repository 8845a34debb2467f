/* errdetail.c - pp_error_detail: the detail behind this thread's last
 * error, like dlerror().  One record per thread; attach failures format
 * their text at once (the facts can change: a segment's mode, a daemon
 * starting), the calls on a dead daemon record the pool and pid only and
 * format when asked, so a worker retrying against a stopped daemon pays a
 * copy of the name, not a snprintf. */
#include "errdetail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "layout.h"
#include "sys.h"

#define DETAIL_MAX 1024
#define GROUPS_SHOWN 16

enum detail_kind {
	DETAIL_NONE = 0,
	DETAIL_TEXT,        /* text holds the detail */
	DETAIL_DAEMON_GONE, /* pool and pid hold it: formatted on demand */
};

struct detail {
	enum detail_kind kind;
	int32_t pid;
	char pool[PP_POOL_NAME_MAX + 1];
	char text[DETAIL_MAX];
	size_t len;
};

/* Dynamic TLS (the default model of a shared library): the library is
 * dlopen()ed by Python, PHP and Node, where static TLS may run out. */
static __thread struct detail td;

void pp_detail_clear(void)
{
	td.kind = DETAIL_NONE;
}

/* Append to the thread's text (truncated at DETAIL_MAX). */
__attribute__((format(printf, 1, 2))) static void add(const char *fmt, ...)
{
	if (td.len >= sizeof td.text - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(td.text + td.len, sizeof td.text - td.len, fmt, ap);
	va_end(ap);
	if (n > 0)
		td.len += (size_t)n < sizeof td.text - td.len ? (size_t)n : sizeof td.text - 1 - td.len;
}

static void begin_text(void)
{
	td.kind = DETAIL_TEXT;
	td.len = 0;
	td.text[0] = '\0';
}

int pp_detail_after(const pp_pool *p, int code)
{
	if (code != PP_EDAEMON || !p) {
		td.kind = DETAIL_NONE;
		return code;
	}
	const struct pp_att *a = atomic_load_explicit(&p->cur, memory_order_relaxed);
	td.kind = DETAIL_DAEMON_GONE;
	td.pid = a ? a->seg.daemon_pid : 0;
	memcpy(td.pool, p->name, sizeof td.pool);
	return code;
}

static void format_daemon_gone(void)
{
	int32_t pid = td.pid;
	bool exists = pid > 0 && !(kill(pid, 0) < 0 && errno == ESRCH);
	begin_text();
	add("pool \"%s\": its phantompoold (pid %d, %s) stopped or stopped answering, and no new daemon "
	    "serves " PP_SHM_DIR "/phantompool-%s yet: start phantompoold for the pool (the handle "
	    "reattaches by itself on a later call)",
	    td.pool, (int)pid, exists ? "still there, heartbeat stale" : "gone", td.pool);
}

const char *pp_error_detail(void)
{
	if (td.kind == DETAIL_DAEMON_GONE)
		format_daemon_gone();
	return td.kind == DETAIL_TEXT ? td.text : NULL;
}

/* ---- attach failures ------------------------------------------------ */

/* Where the name came from, for the text. */
static const char *name_source(const char *pool)
{
	if (pool && *pool)
		return "given by the caller";
	const char *env = getenv("PHANTOMPOOL");
	if (env && *env)
		return "from $PHANTOMPOOL";
	return env ? "the default: no name given and $PHANTOMPOOL is empty"
	           : "the default: no name given and $PHANTOMPOOL is unset";
}

/* A name as given, printable and short (it may be anything). */
static void add_quoted(const char *s)
{
	add("\"");
	for (size_t i = 0; s[i] && i < 64; i++)
		add("%c", s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?');
	add(strlen(s) > 64 ? "...\"" : "\"");
}

static void user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];
	if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res)
		snprintf(buf, len, "%s", pw.pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
}

static void group_name(gid_t gid, char *buf, size_t len)
{
	struct group gr, *res = NULL;
	char tmp[4096];
	if (getgrgid_r(gid, &gr, tmp, sizeof tmp, &res) == 0 && res)
		snprintf(buf, len, "%s", gr.gr_name);
	else
		snprintf(buf, len, "%u", (unsigned)gid);
}

/* True if this process has gid as its effective or a supplementary group. */
static bool in_group(gid_t gid, const gid_t *groups, int n)
{
	if (getegid() == gid)
		return true;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* "uid 33 (www-data), gid 33 (www-data), groups 33,44" */
static void add_caller(const gid_t *groups, int n)
{
	char u[64], g[64];
	user_name(geteuid(), u, sizeof u);
	group_name(getegid(), g, sizeof g);
	add("this process runs as uid %u (%s), gid %u (%s), groups ", (unsigned)geteuid(), u, (unsigned)getegid(), g);
	for (int i = 0; i < n && i < GROUPS_SHOWN; i++)
		add("%s%u", i ? "," : "", (unsigned)groups[i]);
	add(n == 0 ? "none" : n > GROUPS_SHOWN ? ",..." : "");
}

/* The fix for a worker that may not open the segment read-write. */
static void add_access_fix(const struct stat *st, const gid_t *groups, int n)
{
	char u[64], g[64], mine[64];
	user_name(geteuid(), u, sizeof u);
	group_name(st->st_gid, g, sizeof g);
	group_name(getegid(), mine, sizeof mine);
	bool member = in_group(st->st_gid, groups, n);
	bool group_rw = (st->st_mode & 060) == 060;
	if (st->st_gid == 0 && !member)
		/* Root's group: give the segment the workers' group instead. */
		add(". Fix: set group = %s, mode = 0660 in phantompoold's config", mine);
	else if (member && !group_rw)
		add(". Fix: set mode = 0660 in phantompoold's config (this process is in group %s)", g);
	else if (!member && group_rw)
		add(". Fix: add %s to group %s (then restart the workers), or set group = %s in "
		    "phantompoold's config",
		    u, g, mine);
	else
		add(". Fix: add %s to group %s and set mode = 0660, or set group = %s, mode = 0660 in "
		    "phantompoold's config",
		    u, g, mine);
	add(" (see phantompoold(8): mode, group)");
}

static void explain_eacces(const char *path)
{
	struct stat st;
	gid_t groups[256];
	int n = getgroups(256, groups);
	if (n < 0)
		n = 0;
	add("permission denied opening %s read-write", path);
	if (stat(path, &st) != 0) {
		add(" (stat: %s); ", strerror(errno));
		add_caller(groups, n);
		return;
	}
	char o[64], g[64];
	user_name(st.st_uid, o, sizeof o);
	group_name(st.st_gid, g, sizeof g);
	add(": mode %04o, owner %s (uid %u), group %s (gid %u); ", (unsigned)(st.st_mode & 07777), o,
	    (unsigned)st.st_uid, g, (unsigned)st.st_gid);
	add_caller(groups, n);
	add_access_fix(&st, groups, n);
}

/* Read the start of the segment: its size and as much header as there
 * is.  Returns the file size, or -1 with the reason added to the text. */
static long long read_header(const char *path, struct pp_shm_header *h)
{
	memset(h, 0, sizeof *h);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		add("%s cannot be read (%s)", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ssize_t got = pread(fd, h, sizeof *h, 0);
	close(fd);
	(void)got; /* a short file leaves the rest zero: reported by size */
	return (long long)st.st_size;
}

static void explain_version(const char *path, const struct pp_shm_header *h)
{
	add("%s has segment layout version %u; this library (libphantompool %d.%d.%d) reads layout "
	    "version %u: phantompoold and the library come from different releases. Run the "
	    "phantompoold of the library's release (or load the library that came with the daemon)",
	    path, h->layout_version, PP_VERSION_MAJOR, PP_VERSION_MINOR, PP_VERSION_PATCH, PP_LAYOUT_VERSION);
}

static void explain_corrupt(const char *path, const struct pp_shm_header *h, long long size)
{
	uint64_t magic = atomic_load_explicit(&h->magic, memory_order_relaxed);
	add("%s is %lld bytes", path, size);
	if (size < (long long)sizeof *h)
		add(", smaller than a segment header (%zu bytes)", sizeof *h);
	else if (magic != PP_SHM_MAGIC)
		add(", and starts with 0x%016llx, not the magic 0x%016llx (\"PHTMPOOL\"): not a phantompool "
		    "segment, or overwritten",
		    (unsigned long long)magic, (unsigned long long)PP_SHM_MAGIC);
	else
		add("; its header says header_size %u (expected %zu), slot_size %u (expected %zu), %u slots, "
		    "ring size %u, segment_size %llu (expected %llu): inconsistent",
		    h->header_size, sizeof *h, h->slot_size, sizeof(struct pp_slot), h->nslots, h->ring_size,
		    (unsigned long long)h->segment_size,
		    h->nslots <= PP_MAX_SLOTS ? (unsigned long long)pp_layout_size(h->nslots, h->ring_size) : 0ull);
	add(". Restart phantompoold for the pool: it replaces the segment");
}

static void explain_daemon(const char *path, const struct pp_shm_header *h, long long size)
{
	uint64_t magic = atomic_load_explicit(&h->magic, memory_order_relaxed);
	if (size < (long long)sizeof *h || magic == 0) {
		add("%s is being created (%lld bytes, not yet published): phantompoold is starting; try "
		    "again in a moment",
		    path, size);
		return;
	}
	int32_t pid = h->daemon_pid;
	bool exists = pid > 0 && !(kill(pid, 0) < 0 && errno == ESRCH);
	uint32_t state = atomic_load_explicit(&h->daemon_state, memory_order_relaxed);
	uint64_t hb = atomic_load_explicit(&h->heartbeat_ns, memory_order_relaxed), now = pp_now_ns();
	add("%s was left by phantompoold pid %d, which is %s (state %s, heartbeat %.1f s old): start "
	    "phantompoold for the pool (it replaces the segment)",
	    path, (int)pid, exists ? "still there but not answering" : "gone",
	    state == PP_DAEMON_STOPPED    ? "stopped"
	    : state == PP_DAEMON_DRAINING ? "draining"
	    : state == PP_DAEMON_READY    ? "ready"
	                                  : "starting",
	    now > hb ? (double)(now - hb) / 1e9 : 0.0);
}

void pp_detail_attach(const char *pool, int code, int sys_errno)
{
	char name[PP_POOL_NAME_MAX + 1];
	begin_text();
	if (code == PP_ENOMEM || code == PP_EINVAL) {
		td.kind = DETAIL_NONE;
		return;
	}
	const char *src = name_source(pool);
	if (pp_pool_resolve(pool, name, sizeof name) != 0) {
		const char *given = pool && *pool ? pool : getenv("PHANTOMPOOL");
		add("pool name ");
		add_quoted(given ? given : "");
		add(" (%s) is not 1..%d characters of [A-Za-z0-9._-]", src, PP_POOL_NAME_MAX);
		return;
	}
	char path[sizeof PP_SHM_DIR + sizeof "/phantompool-" + PP_POOL_NAME_MAX];
	snprintf(path, sizeof path, PP_SHM_DIR "/phantompool-%s", name);
	add("pool \"%s\" (%s): ", name, src);
	struct pp_shm_header h;
	long long size;
	switch (code) {
	case PP_ENOPOOL:
		add("no segment %s. Is phantompoold running for this pool? Servers such as lighttpd mod_cgi, "
		    "PHP-FPM (clear_env) and Apache drop PHANTOMPOOL from the environment: pass the pool "
		    "name explicitly",
		    path);
		break;
	case PP_EACCES: explain_eacces(path); break;
	case PP_EVERSION:
	case PP_ECORRUPT:
	case PP_EDAEMON:
		if ((size = read_header(path, &h)) < 0)
			break;
		if (code == PP_EVERSION)
			explain_version(path, &h);
		else if (code == PP_ECORRUPT)
			explain_corrupt(path, &h, size);
		else
			explain_daemon(path, &h, size);
		break;
	default: add("attaching %s failed: %s (%s)", path, pp_strerror(code), strerror(sys_errno));
	}
}
