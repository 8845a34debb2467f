/* cpu.h - the pause instruction of a spin loop. */
#ifndef PP_CPU_H
#define PP_CPU_H

#include <stdatomic.h>

/* One iteration's pause in a spin-wait: tells the CPU (and a hypervisor
 * watching for pause loops) that we are spinning.  Also a compiler
 * barrier on every architecture. */
static inline void pp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif
