/* bench_floor.c - what a hand-off between two processes costs on this
 * machine: the floor under every request through the pool (two hand-offs
 * each) and the reason the pool spins (shm/spin.c) before it sleeps.
 *
 * Two processes pass a token back and forth through a shared word, 20,000
 * round trips per run, median of 5 runs.  Prints `name value unit` lines:
 *   floor_futex_rtt_same_cpu        both on CPU 0, futex wait/wake each way
 *   floor_futex_rtt_other_cpu       CPU 0 and CPU 1, futex wait/wake
 *   floor_spin_rtt_other_cpu        CPU 0 and CPU 1, each side spins (never
 *                                   sleeps, so no wake either)
 * (the cross-CPU lines only with two CPUs or more).
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "cpu.h"
#include "futex.h"

#define ROUNDS 20000
#define RUNS 5

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof set, &set);
}

/* Wait until *w == want: spinning, or sleeping on the futex (then the
 * peer always wakes: the cost measured includes the wake system call). */
static void wait_for(_Atomic uint32_t *w, uint32_t want, int spin)
{
	while (atomic_load_explicit(w, memory_order_acquire) != want) {
		if (spin)
			pp_cpu_relax();
		else
			pp_futex_wait(w, want - 1, UINT64_MAX);
	}
}

static void post(_Atomic uint32_t *w, uint32_t v, int wake)
{
	atomic_store_explicit(w, v, memory_order_release);
	if (wake)
		pp_futex_wake(w, 1);
}

/* One run: ns per round trip, or -1. */
static double run(int cpu_a, int cpu_b, int spin)
{
	_Atomic uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED)
		return -1;
	atomic_store(w, 0);
	/* The child starts on its own CPU (set before the fork). */
	pin(cpu_b);
	pid_t pid = fork();
	if (pid == 0) {
		for (uint32_t i = 0; i < ROUNDS; i++) {
			wait_for(w, 2 * i + 1, spin);
			post(w, 2 * i + 2, !spin);
		}
		_exit(0);
	}
	pin(cpu_a);
	if (pid < 0) {
		munmap((void *)w, 4096);
		return -1;
	}
	uint64_t t0 = pp_now_ns();
	for (uint32_t i = 0; i < ROUNDS; i++) {
		post(w, 2 * i + 1, !spin);
		wait_for(w, 2 * i + 2, spin);
	}
	double ns = (double)(pp_now_ns() - t0) / ROUNDS;
	int st;
	waitpid(pid, &st, 0);
	munmap((void *)w, 4096);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? ns : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void report(const char *name, int cpu_a, int cpu_b, int spin)
{
	double v[RUNS];
	for (int i = 0; i < RUNS; i++)
		if ((v[i] = run(cpu_a, cpu_b, spin)) < 0) {
			fprintf(stderr, "%s: a run failed\n", name);
			return;
		}
	qsort(v, RUNS, sizeof v[0], cmp_double);
	printf("%s %.2f us\n", name, v[RUNS / 2] / 1000.0);
}

int main(void)
{
	report("floor_futex_rtt_same_cpu", 0, 0, 0);
	if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
		report("floor_futex_rtt_other_cpu", 0, 1, 0);
		report("floor_spin_rtt_other_cpu", 0, 1, 1);
	}
	return 0;
}
