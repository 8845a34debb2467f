/* segment.c - see segment.h. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/random.h>

#include "clock.h"
#include "errors.h"
#include "phantompool.h"
#include "slot.h"
#include "spin.h"
#include "sys.h"

int pp_pool_resolve(const char *pool, char *buf, size_t len)
{
	if (!pool || !*pool)
		pool = getenv("PHANTOMPOOL");
	if (!pool || !*pool)
		pool = "default";
	size_t n = strlen(pool);
	if (n > PP_POOL_NAME_MAX || n >= len)
		return PP_ENAME;
	for (size_t i = 0; i < n; i++) {
		char c = pool[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok)
			return PP_ENAME;
	}
	if (strcmp(pool, ".") == 0 || strcmp(pool, "..") == 0)
		return PP_ENAME;
	memcpy(buf, pool, n + 1);
	return 0;
}

int pp_seg_shm_name(const char *pool, char *buf, size_t len)
{
	char name[PP_POOL_NAME_MAX + 1];
	int r = pp_pool_resolve(pool, name, sizeof name);
	if (r)
		return r;
	/* Pasted, not snprintf'd: a CGI program attaching would otherwise
	 * fault in printf's code for it. */
	static const char prefix[] = "/phantompool-";
	size_t n = strlen(name);
	if (sizeof prefix + n > len)
		return PP_ENAME;
	memcpy(buf, prefix, sizeof prefix - 1);
	memcpy(buf + sizeof prefix - 1, name, n + 1);
	return 0;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Fill the private view from a validated mapping. */
static void seg_fill_view(struct pp_seg *seg, void *base, size_t size)
{
	struct pp_shm_header *h = base;
	seg->base = base;
	seg->size = size;
	seg->hdr = h;
	seg->nslots = h->nslots;
	seg->ring_size = h->ring_size;
	seg->generation = h->generation;
	seg->daemon_pid = h->daemon_pid;
	seg->max_body = h->max_body;
	seg->lease_timeout_ms = h->lease_timeout_ms;
	seg->request_timeout_ms = h->request_timeout_ms;
	seg->spin_claims = h->spin_claims < PP_SPIN_CLAIMS ? h->spin_claims : PP_SPIN_CLAIMS;
	seg->waiters = (struct pp_waiter *)((uint8_t *)base + PP_WAITERS_OFF);
	seg->slots = (struct pp_slot *)((uint8_t *)base + PP_SLOTS_OFF);
	seg->rings = (uint8_t *)base + pp_layout_rings_off(h->nslots);
}

/* Initialise the waiter records and every slot record: robust,
 * process-shared owner locks and empty rings.  Runs before magic is
 * published, so nobody else looks. */
static int seg_init_slots(struct pp_seg *seg)
{
	int r = 0;
	for (uint32_t i = 0; !r && i < PP_MAX_WAITERS; i++)
		r = pp_owner_lock_init(&seg->waiters[i].lock);
	for (uint32_t i = 0; !r && i < seg->nslots; i++) {
		struct pp_slot *s = pp_seg_slot(seg, i);
		r = pp_owner_lock_init(&s->owner_lock);
		atomic_init(&s->state, PP_SLOT_FREE);
		atomic_init(&s->worker_cpu, -1);
		atomic_init(&s->daemon_cpu, -1);
		pp_ring_reset(&s->req);
		pp_ring_reset(&s->resp);
	}
	return -r;
}

static void seg_init_header(struct pp_seg *seg, const struct pp_seg_config *cfg, uint64_t size)
{
	struct pp_shm_header *h = seg->hdr;
	h->layout_version = PP_LAYOUT_VERSION;
	h->header_size = sizeof *h;
	h->segment_size = size;
	if (getrandom(&h->generation, sizeof h->generation, 0) != (ssize_t)sizeof h->generation)
		h->generation = pp_wall_ns() ^ ((uint64_t)getpid() << 32);
	h->generation |= 1; /* never 0: 0 means "no generation" to clients */
	h->daemon_pid = getpid();
	h->nslots = cfg->nslots;
	h->min_conns = cfg->min_conns;
	h->max_conns = cfg->max_conns && cfg->max_conns <= cfg->nslots ? cfg->max_conns : cfg->nslots;
	h->ring_size = cfg->ring_size;
	h->slot_size = sizeof(struct pp_slot);
	h->slots_off = PP_SLOTS_OFF;
	h->rings_off = pp_layout_rings_off(cfg->nslots);
	h->start_wall_ns = pp_wall_ns();
	h->lease_timeout_ms = cfg->lease_timeout_ms;
	h->request_timeout_ms = cfg->request_timeout_ms;
	h->max_body = cfg->max_body;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	h->spin_claims = cpus <= 1 ? 0 : cpus - 1 < PP_SPIN_CLAIMS ? (uint32_t)(cpus - 1) : PP_SPIN_CLAIMS;
	atomic_store(&h->spin_ns, cfg->spin_ns < PP_SPIN_MAX_NS ? cfg->spin_ns : PP_SPIN_MAX_NS);
	snprintf(h->pool_name, sizeof h->pool_name, "%s", cfg->pool);
	snprintf(h->backend, sizeof h->backend, "%s", cfg->backend ? cfg->backend : "");
	atomic_store(&h->daemon_state, PP_DAEMON_STARTING);
	atomic_store(&h->heartbeat_ns, pp_now_ns());
}

static int seg_config_ok(const struct pp_seg_config *cfg)
{
	char name[PP_POOL_NAME_MAX + 1];
	if (pp_pool_resolve(cfg->pool, name, sizeof name) != 0 || !cfg->pool)
		return 0;
	if (cfg->nslots < 1 || cfg->nslots > PP_MAX_SLOTS || cfg->min_conns > cfg->nslots)
		return 0;
	return is_pow2(cfg->ring_size) && cfg->ring_size >= PP_RING_MIN &&
	       cfg->ring_size <= PP_RING_MAX;
}

/* Open a fresh shm object, replacing a stale one (the pidfile lock held
 * by the caller guarantees its daemon is dead). */
static int seg_open_fresh(const char *shm_name, unsigned mode, gid_t gid)
{
	int fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, mode);
	if (fd < 0 && errno == EEXIST) {
		shm_unlink(shm_name);
		fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, mode);
	}
	if (fd < 0)
		return -errno;
	/* shm_open applies the umask: set the configured mode exactly. */
	if (fchmod(fd, mode) < 0 || (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0)) {
		int e = errno;
		close(fd);
		shm_unlink(shm_name);
		return -e;
	}
	return fd;
}

int pp_seg_create(const struct pp_seg_config *cfg, struct pp_seg *out)
{
	memset(out, 0, sizeof *out);
	if (!seg_config_ok(cfg))
		return -EINVAL;
	pp_seg_shm_name(cfg->pool, out->shm_name, sizeof out->shm_name);
	/* A segment whose daemon is alive belongs to that daemon (its pidfile
	 * may be another path): never unlink it from under it. */
	struct pp_seg old;
	if (pp_seg_attach(cfg->pool, false, &old) == 0) {
		bool alive = pp_seg_daemon_alive(&old, PP_DAEMON_STALE_MS);
		pp_seg_unmap(&old);
		if (alive)
			return -EADDRINUSE;
	}
	uint64_t size = pp_layout_size(cfg->nslots, cfg->ring_size);
	int fd = seg_open_fresh(out->shm_name, cfg->mode, cfg->gid);
	if (fd < 0)
		return fd;
	int err = 0;
	void *base = MAP_FAILED;
	struct stat st;
	if (fstat(fd, &st) == 0) {
		out->dev = st.st_dev;
		out->ino = st.st_ino;
	}
	if (ftruncate(fd, (off_t)size) < 0)
		err = -errno;
	else if ((base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		err = -errno;
	close(fd);
	if (err) {
		shm_unlink(out->shm_name);
		return err;
	}
	out->hdr = base;
	seg_init_header(out, cfg, size);
	seg_fill_view(out, base, size);
	err = seg_init_slots(out);
	if (err) {
		pp_seg_unmap(out);
		shm_unlink(out->shm_name);
		return err;
	}
	/* Publish: pairs with the acquire load of magic in pp_seg_validate;
	 * everything initialised above is visible to whoever sees magic. */
	atomic_store_explicit(&out->hdr->magic, PP_SHM_MAGIC, memory_order_release);
	return 0;
}

int pp_seg_validate(const void *base, size_t size)
{
	const struct pp_shm_header *h = base;
	if (size < sizeof *h)
		return PP_ECORRUPT;
	/* Pairs with the release store in pp_seg_create. */
	uint64_t magic = atomic_load_explicit(&((struct pp_shm_header *)h)->magic, memory_order_acquire);
	if (magic == 0)
		return PP_EDAEMON; /* created but not published yet */
	if (magic != PP_SHM_MAGIC)
		return PP_ECORRUPT;
	if (h->layout_version != PP_LAYOUT_VERSION)
		return PP_EVERSION;
	if (h->header_size != sizeof *h || h->slot_size != sizeof(struct pp_slot))
		return PP_ECORRUPT;
	if (h->nslots < 1 || h->nslots > PP_MAX_SLOTS || !is_pow2(h->ring_size) ||
	    h->ring_size < PP_RING_MIN || h->ring_size > PP_RING_MAX)
		return PP_ECORRUPT;
	if (h->slots_off != PP_SLOTS_OFF || h->rings_off != pp_layout_rings_off(h->nslots))
		return PP_ECORRUPT;
	if (h->segment_size != size || pp_layout_size(h->nslots, h->ring_size) != size)
		return PP_ECORRUPT;
	return 0;
}

/* errno (positive) of a failed system call on the segment, as a PP_E* code. */
static int errno_to_pp(int e)
{
	return pp_error_from_errno(-e);
}

int pp_seg_attach(const char *pool, bool writable, struct pp_seg *out)
{
	memset(out, 0, sizeof *out);
	int r = pp_seg_shm_name(pool, out->shm_name, sizeof out->shm_name);
	if (r)
		return r;
	int fd = pp_sys_shm_open(out->shm_name, writable ? O_RDWR : O_RDONLY);
	if (fd < 0)
		return errno_to_pp(errno);
	struct stat st;
	if (pp_sys_fstat(fd, &st) < 0) {
		r = errno_to_pp(errno);
		pp_sys_close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) { /* a FIFO, a directory, a device: not a segment */
		pp_sys_close(fd);
		return PP_ECORRUPT;
	}
	if (st.st_size < (off_t)sizeof(struct pp_shm_header) || (uint64_t)st.st_size > (1ull << 40)) {
		pp_sys_close(fd);
		return st.st_size == 0 ? PP_EDAEMON : PP_ECORRUPT;
	}
	size_t size = (size_t)st.st_size;
	void *base = pp_sys_mmap(size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd);
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	r = base == MAP_FAILED ? errno_to_pp(errno) : 0;
	pp_sys_close(fd);
	if (r)
		return r;
	/* The mapping is in *out before its first read: a caller that jumps
	 * out of a SIGBUS handler (shmdump, on a segment shrunk under it) can
	 * still unmap it with pp_seg_unmap.  The signal fence keeps the
	 * compiler from moving these stores past the reads below (a handler
	 * on this thread sees them; no other thread needs to). */
	out->base = base;
	out->size = size;
	atomic_signal_fence(memory_order_seq_cst);
	/* No madvise(MADV_POPULATE_*) of the pages a worker touches first:
	 * it maps exactly the pages asked for, one by one, while the first
	 * touch of a page of this tmpfs file maps it and its neighbours in one
	 * fault (fault-around, 64 KiB by default).  A CGI program run took
	 * 19-26 us longer with the header, slot records and ring pages
	 * populated (docs/BENCHMARKS.md, runs 14 and 15). */
	r = pp_seg_validate(base, size);
	if (r) {
		pp_seg_unmap(out);
		return r;
	}
	seg_fill_view(out, base, size);
	return 0;
}

void pp_seg_unmap(struct pp_seg *seg)
{
	if (seg && seg->base)
		pp_sys_munmap(seg->base, seg->size);
	if (seg) {
		seg->base = NULL;
		seg->hdr = NULL;
	}
}

int pp_seg_unlink(const char *pool)
{
	char name[PP_POOL_NAME_MAX + 16];
	int r = pp_seg_shm_name(pool, name, sizeof name);
	if (r)
		return -EINVAL;
	return shm_unlink(name) < 0 ? -errno : 0;
}

bool pp_seg_daemon_fresh(const struct pp_seg *seg, uint64_t stale_ms, uint64_t now_ns)
{
	struct pp_shm_header *h = seg->hdr;
	if (atomic_load_explicit(&h->daemon_state, memory_order_acquire) == PP_DAEMON_STOPPED)
		return false;
	uint64_t hb = atomic_load_explicit(&h->heartbeat_ns, memory_order_relaxed);
	return hb + stale_ms * PP_NS_PER_MS >= now_ns;
}

bool pp_seg_daemon_pid_exists(const struct pp_seg *seg)
{
	return seg->daemon_pid > 0 && !(pp_sys_kill(seg->daemon_pid, 0) < 0 && errno == ESRCH);
}

bool pp_seg_daemon_alive(const struct pp_seg *seg, uint64_t stale_ms)
{
	return pp_seg_daemon_fresh(seg, stale_ms, pp_now_ns()) && pp_seg_daemon_pid_exists(seg);
}

int pp_seg_identity(const char *shm_name, dev_t *dev, ino_t *ino)
{
	int fd = pp_sys_shm_open(shm_name, O_RDONLY);
	if (fd < 0)
		return errno_to_pp(errno);
	struct stat st;
	int r = pp_sys_fstat(fd, &st) < 0 ? errno_to_pp(errno) : 0;
	pp_sys_close(fd);
	if (!r) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
	return r;
}
