/* detach.h - the daemon's start without -f: it leaves the shell, and the
 * command that started it exits with the outcome of the start (0 once the
 * pool is ready, the daemon's own exit status if it gave up), as a
 * Type=forking service manager or a shell script expects. */
#ifndef PD_DETACH_H
#define PD_DETACH_H

/* Fork.  The parent waits on a pipe and never returns: it exits 0 when
 * the child calls pd_detach_ready, or with the child's exit status (1
 * when it cannot be had) when the child ends or closes the pipe first.
 * The child starts a new session, moves to "/", and returns the pipe's
 * write end (>= 0); its standard streams stay open until
 * pd_detach_ready, so a start that fails can still say why on them.
 * Returns -1 if the pipe or fork failed (errno set; nothing forked). */
int pd_detach_begin(void);

/* In the detached daemon, once the pool is ready: tell the waiting
 * command, close `fd`, and point the standard streams at /dev/null.
 * A negative `fd` (started with -f) does nothing. */
void pd_detach_ready(int fd);

#endif
