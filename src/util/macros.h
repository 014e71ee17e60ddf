/* macros.h - ownership and small helpers shared by every module.
 *
 * Ownership convention (see docs/architecture.md): a pointer or fd passed to a
 * function is borrowed unless its comment says "takes ownership".  Moving an
 * owned value out of a cleanup-managed variable always goes through TAKE_PTR
 * or TAKE_FD, so a reader sees every transfer.  Destructors accept NULL (or -1).
 */
#ifndef AIRLOCK_UTIL_MACROS_H
#define AIRLOCK_UTIL_MACROS_H

#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_     __attribute__((noreturn))
#define _warn_unused_  __attribute__((warn_unused_result))
#define _fallthrough_  __attribute__((fallthrough))

/* Move ownership out of a variable: returns its value and leaves NULL behind,
 * so the variable's cleanup handler becomes a no-op. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _taken = (p);                                                        \
		(p) = NULL;                                                                        \
		_taken;                                                                            \
	})

#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _taken = (fd);                                                                 \
		(fd) = -1;                                                                         \
		_taken;                                                                            \
	})

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Declares `static inline void name##p(type **p)` calling `func(*p)`, for
 * _cleanup_(name##p) on an owned pointer of a module's type. */
#define DEFINE_POINTER_CLEANUP(type, func)                                                         \
	static inline void func##p(type **p)                                                       \
	{                                                                                          \
		func(*p);                                                                          \
	}

#endif
