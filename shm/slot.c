/* slot.c - see slot.h. */
#include "slot.h"

#include <limits.h>

#include "futex.h"

int pp_owner_lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int r = pthread_mutexattr_init(&a);
	if (!r)
		r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!r)
		r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!r)
		r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	if (!r)
		r = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return r;
}

int pp_owner_lock_kind(void)
{
	static int kind = -1;
	if (kind == -1) {
		pthread_mutex_t m;
		pp_owner_lock_init(&m);
		kind = m.__data.__kind;
		pthread_mutex_destroy(&m);
	}
	return kind;
}

bool pp_sem_has_waiters(const struct pp_shm_header *h)
{
	for (unsigned i = 0; i < PP_WAITER_WORDS; i++)
		if (atomic_load_explicit(&((struct pp_shm_header *)h)->waiter_bits[i], memory_order_relaxed))
			return true;
	return false;
}

uint32_t pp_sem_waiting(const struct pp_shm_header *h)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < PP_WAITER_WORDS; i++)
		n += (uint32_t)__builtin_popcountll(
			atomic_load_explicit(&((struct pp_shm_header *)h)->waiter_bits[i], memory_order_relaxed));
	return n;
}

void pp_sem_post_wake(struct pp_shm_header *h)
{
	/* Pairs with the fence after a sleeper sets its bit in lease_sleep
	 * (libclient). */
	atomic_thread_fence(memory_order_seq_cst);
	if (!pp_sem_has_waiters(h))
		return;
	atomic_fetch_add_explicit(&h->wake_seq, 1, memory_order_release);
	pp_futex_wake(&h->wake_seq, 1);
}

void pp_sem_wake_all(struct pp_shm_header *h)
{
	atomic_fetch_add_explicit(&h->wake_seq, 1, memory_order_seq_cst);
	pp_futex_wake(&h->wake_seq, INT_MAX);
}

uint32_t pp_slots_free(const struct pp_seg *seg)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < seg->nslots; i++)
		n += atomic_load_explicit(&seg->slots[i].state, memory_order_relaxed) == PP_SLOT_FREE;
	return n;
}

static const char *const slot_state_names[PP_SLOT_NSTATES] = {
	[PP_SLOT_FREE] = "free",       [PP_SLOT_LEASED] = "leased",
	[PP_SLOT_BUSY] = "busy",       [PP_SLOT_RECLAIM] = "reclaim",
	[PP_SLOT_RESETTING] = "resetting", [PP_SLOT_DISABLED] = "disabled",
};

static const char *const conn_state_names[PP_CONN_NSTATES] = {
	[PP_CONN_NONE] = "none", [PP_CONN_CONNECTING] = "connecting",
	[PP_CONN_UP] = "up",     [PP_CONN_DOWN] = "down",
};

const char *pp_slot_state_name(uint32_t state)
{
	return state < PP_SLOT_NSTATES ? slot_state_names[state] : "?";
}

const char *pp_conn_state_name(uint32_t state)
{
	return state < PP_CONN_NSTATES ? conn_state_names[state] : "?";
}
