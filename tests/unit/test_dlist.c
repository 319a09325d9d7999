/* test_dlist.c - the intrusive list macros: order, head, tail and links
 * after each kind of change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dlist.h"

struct node {
	int v;
	struct node *prev, *next;
};

/* The values from HEAD forward, as digits, checking each back link. */
static int walk(const struct node *head)
{
	int out = 0;
	const struct node *prev = NULL;
	for (const struct node *n = head; n; prev = n, n = n->next) {
		assert_ptr_equal(n->prev, prev);
		out = out * 10 + n->v;
	}
	return out;
}

static void push_unlink(void **state)
{
	(void)state;
	struct node a = { .v = 1 }, b = { .v = 2 }, c = { .v = 3 };
	struct node *head = NULL;
	RV_LIST_PUSH(head, &a);
	RV_LIST_PUSH(head, &b);
	RV_LIST_PUSH(head, &c);
	assert_int_equal(walk(head), 321);
	RV_LIST_UNLINK(head, &b);	/* the middle */
	assert_int_equal(walk(head), 31);
	assert_null(b.prev);
	assert_null(b.next);
	RV_LIST_UNLINK(head, &c);	/* the first */
	assert_ptr_equal(head, &a);
	RV_LIST_UNLINK(head, &a);	/* the last one */
	assert_null(head);
}

static void append_remove(void **state)
{
	(void)state;
	struct node a = { .v = 1 }, b = { .v = 2 }, c = { .v = 3 };
	struct node *head = NULL, *tail = NULL;
	RV_LIST_APPEND(head, tail, &a);
	RV_LIST_APPEND(head, tail, &b);
	RV_LIST_APPEND(head, tail, &c);
	assert_int_equal(walk(head), 123);
	assert_ptr_equal(tail, &c);
	RV_LIST_REMOVE(head, tail, &c);	/* the tail moves back */
	assert_ptr_equal(tail, &b);
	assert_int_equal(walk(head), 12);
	RV_LIST_REMOVE(head, tail, &a);	/* the head moves on, the tail stays */
	assert_ptr_equal(head, &b);
	assert_ptr_equal(tail, &b);
	RV_LIST_APPEND(head, tail, &a);	/* to the back again */
	assert_int_equal(walk(head), 21);
	RV_LIST_REMOVE(head, tail, &b);
	RV_LIST_REMOVE(head, tail, &a);
	assert_null(head);
	assert_null(tail);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(push_unlink),
		cmocka_unit_test(append_remove),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
