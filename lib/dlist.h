/* dlist.h - intrusive doubly linked lists.
 *
 * A node is any struct with `prev` and `next` pointers to its own type; a
 * list is a head pointer (RV_LIST_PUSH, RV_LIST_UNLINK: order does not
 * matter, e.g. a server's connections) or a head and a tail (RV_LIST_APPEND,
 * RV_LIST_REMOVE: first in, first out, e.g. requests in deadline order).
 * The macros only relink: the list owns nothing, and a node is unlinked
 * before it is freed. Each argument is evaluated more than once: pass
 * plain lvalues. No I/O, no allocation. */
#ifndef RV_DLIST_H
#define RV_DLIST_H

#include <stddef.h>

/* RV_LIST_PUSH - put N first in the list at HEAD. */
#define RV_LIST_PUSH(head, n)                                                  \
	do {                                                                   \
		(n)->prev = NULL;                                              \
		(n)->next = (head);                                            \
		if (head)                                                      \
			(head)->prev = (n);                                    \
		(head) = (n);                                                  \
	} while (0)

/* RV_LIST_UNLINK - take N out of the list at HEAD. */
#define RV_LIST_UNLINK(head, n)                                                \
	do {                                                                   \
		if ((n)->prev)                                                 \
			(n)->prev->next = (n)->next;                           \
		else                                                           \
			(head) = (n)->next;                                    \
		if ((n)->next)                                                 \
			(n)->next->prev = (n)->prev;                           \
		(n)->prev = (n)->next = NULL;                                  \
	} while (0)

/* RV_LIST_APPEND - put N last in the list at HEAD and TAIL. */
#define RV_LIST_APPEND(head, tail, n)                                          \
	do {                                                                   \
		(n)->next = NULL;                                              \
		(n)->prev = (tail);                                            \
		if (tail)                                                      \
			(tail)->next = (n);                                    \
		else                                                           \
			(head) = (n);                                          \
		(tail) = (n);                                                  \
	} while (0)

/* RV_LIST_REMOVE - take N out of the list at HEAD and TAIL. */
#define RV_LIST_REMOVE(head, tail, n)                                          \
	do {                                                                   \
		if (!(n)->next)                                                \
			(tail) = (n)->prev;                                    \
		RV_LIST_UNLINK(head, n);                                       \
	} while (0)

#endif
