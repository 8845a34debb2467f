/* pool.c - attach, detach, status, errors: the pool handle. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "slot.h"

#define PP_DAEMON_STALE_MS 1000

static pid_t cached_pid;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
	cached_pid = getpid();
}

static void client_init(void)
{
	cached_pid = getpid();
	pthread_atfork(NULL, NULL, on_fork_child);
}

void pp_client_init_once(void)
{
	pthread_once(&init_once, client_init);
}

pid_t pp_client_pid(void)
{
	return cached_pid;
}

int pp_attach(const char *pool, pp_pool **out)
{
	if (!out)
		return PP_EINVAL;
	*out = NULL;
	pp_client_init_once();
	pp_pool *p = calloc(1, sizeof *p);
	if (!p)
		return PP_ENOMEM;
	int r = pp_pool_resolve(pool, p->name, sizeof p->name);
	if (!r)
		r = pp_seg_attach(p->name, true, &p->seg);
	if (!r && !pp_seg_daemon_alive(&p->seg, PP_DAEMON_STALE_MS))
		r = PP_EDAEMON;
	if (!r && !(p->leases = calloc(p->seg.nslots, sizeof *p->leases)))
		r = PP_ENOMEM;
	if (r) {
		pp_seg_unmap(&p->seg);
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

void pp_detach(pp_pool *p)
{
	if (!p)
		return;
	pid_t me = pp_client_pid();
	for (uint32_t i = 0; i < p->seg.nslots; i++) {
		struct pp_lease *l = &p->leases[i];
		if (l->token && l->pid == me && pthread_equal(l->thread, pthread_self()))
			pp_release(l);
	}
	pp_seg_unmap(&p->seg);
	for (uint32_t i = 0; i < p->seg.nslots; i++)
		free(p->leases[i].scratch), free(p->leases[i].out.buf);
	free(p->leases);
	free(p);
}

int pp_status(pp_pool *p, pp_pool_status *out)
{
	if (!p || !out)
		return PP_EINVAL;
	memset(out, 0, sizeof *out);
	const struct pp_shm_header *h = p->seg.hdr;
	uint64_t leases = 0, reclaims = 0;
	for (uint32_t i = 0; i < p->seg.nslots; i++)
		leases += atomic_load_explicit(&p->seg.slots[i].leases, memory_order_relaxed);
	reclaims = atomic_load_explicit(&((struct pp_shm_header *)h)->reclaims, memory_order_relaxed);
	out->available = pp_slots_free(&p->seg);
	out->used = p->seg.nslots - out->available;
	out->min = h->min_conns;
	out->max = p->seg.nslots;
	out->waiting = atomic_load_explicit(&((struct pp_shm_header *)h)->waiters, memory_order_relaxed);
	out->daemon_pid = p->seg.daemon_pid;
	out->generation = p->seg.generation;
	out->leases = leases;
	out->lease_timeouts = atomic_load_explicit(&((struct pp_shm_header *)h)->lease_timeouts, memory_order_relaxed);
	out->reclaims = reclaims;
	return pp_seg_daemon_alive(&p->seg, PP_DAEMON_STALE_MS) ? 0 : PP_EDAEMON;
}

int pp_version(void)
{
	return PP_VERSION_NUMBER;
}
