/* test_cli.c - the subcommand table of lib/cli: the argument-count check
 * and its messages, the choice of command, and the usage lines that
 * --help and the man SYNOPSIS are made from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

static const struct rv_opt opts[] = {
	{ RV_OPT_HELP, 'h', "help", NULL, "print this help and exit", NULL, NULL },
	{ 0 }
};

static const struct rv_subcmd cmds[] = {
	{ "cmd", "[TEXT...]", "send TEXT", 0, RV_ARGS_ANY, NULL, 1 },
	{ "data", "[FILE|-]", "send a stream", 0, 1, NULL, 2 },
	{ "file", "PATH...", "send files", 1, RV_ARGS_ANY, NULL, 3 },
	{ "post", "GROUP [TEXT...]", "post to a group", 1, RV_ARGS_ANY, NULL, 4 },
	{ "token", "ID", "make a token", 1, 1, NULL, 5 },
	{ "media", "", "stream media", 0, 0, NULL, 6 },
	{ "stats", "", "print figures", 0, 0, NULL, 7 },
	{ NULL }
};

static const struct rv_tool tool = {
	.name = "rvtest",
	.summary = "A tool for the tests.",
	.options = "[OPTION...] [-t ID]",
	.opts = opts,
	.cmds = cmds,
};

static const char *problem(int i, int n, char **argv)
{
	static char buf[256];
	return rv_cli_count_problem(&cmds[i], n, argv, buf, sizeof buf);
}

static void counts_within_bounds_pass(void **state)
{
	(void)state;
	char *args[] = { "a", "b", "c", NULL };
	assert_null(problem(0, 0, args));
	assert_null(problem(0, 3, args));
	assert_null(problem(1, 0, args));
	assert_null(problem(1, 1, args));
	assert_null(problem(2, 1, args));
	assert_null(problem(2, 3, args));
	assert_null(problem(4, 1, args));
	assert_null(problem(5, 0, args));
}

static void counts_out_of_bounds_say_why(void **state)
{
	(void)state;
	char *args[] = { "a", "b", NULL };
	assert_string_equal(problem(2, 0, args), "file needs at least one PATH");
	assert_string_equal(problem(3, 0, args), "post needs GROUP");
	assert_string_equal(problem(4, 0, args), "token takes one ID");
	assert_string_equal(problem(4, 2, args), "token takes one ID");
	assert_string_equal(problem(5, 1, args), "media takes no arguments (unexpected 'a')");
	assert_string_equal(problem(1, 2, args), "data takes at most 1 argument: [FILE|-] (unexpected 'b')");
}

static void command_is_found_by_name(void **state)
{
	(void)state;
	char *argv[] = { "file", "x", "y", NULL };
	const struct rv_subcmd *c = rv_cli_command(&tool, 3, argv);
	assert_non_null(c);
	assert_int_equal(c->id, 3);
	struct rv_tool optional = tool;
	optional.cmd_optional = 1;
	assert_null(rv_cli_command(&optional, 0, argv));
}

static char *output_of(const struct rv_tool *t, const char *dump)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	if (dump)
		assert_int_equal(rv_cli_dump(t, dump, f), 0);
	else
		rv_cli_help(t, f);
	fclose(f);
	return text;
}

/* One usage line per argument form, every command on one, in table order. */
static void usage_lines_name_every_command(void **state)
{
	(void)state;
	char *help = output_of(&tool, NULL);
	const char *want =
		"Usage: rvtest [OPTION...] [-t ID] cmd [TEXT...]\n"
		"       rvtest [OPTION...] [-t ID] data [FILE|-]\n"
		"       rvtest [OPTION...] [-t ID] file PATH...\n"
		"       rvtest [OPTION...] [-t ID] post GROUP [TEXT...]\n"
		"       rvtest [OPTION...] [-t ID] token ID\n"
		"       rvtest [OPTION...] [-t ID] media|stats\n"
		"A tool for the tests.\n";
	assert_memory_equal(help, want, strlen(want));
	free(help);

	struct rv_tool optional = tool;
	optional.cmd_optional = 1;
	optional.options = NULL;
	help = output_of(&optional, NULL);
	assert_non_null(strstr(help, "\n       rvtest [OPTION...] [media|stats]\n"));
	assert_non_null(strstr(help, "\n       rvtest [OPTION...] token ID\n"));
	free(help);

	struct rv_tool word = tool;
	word.command_word = "COMMAND";
	help = output_of(&word, NULL);
	assert_memory_equal(help, "Usage: rvtest [OPTION...] [-t ID] COMMAND [ARG...]\nA tool", 56);
	free(help);
}

static void synopsis_and_table_dumps(void **state)
{
	(void)state;
	char *syn = output_of(&tool, "man-synopsis");
	assert_non_null(strstr(syn, ".SH SYNOPSIS\n.B rvtest\n[OPTION...] [\\-t ID]\n.B cmd\n[TEXT...]\\&\n.br\n"));
	assert_non_null(strstr(syn, ".B media|stats\n"));
	free(syn);
	char *table = output_of(&tool, "commands");
	assert_non_null(strstr(table, "cmd\t0\t-1\t[TEXT...]\ndata\t0\t1\t[FILE|-]\nfile\t1\t-1\tPATH...\n"));
	assert_non_null(strstr(table, "media\t0\t0\t\n"));
	free(table);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_within_bounds_pass),
		cmocka_unit_test(counts_out_of_bounds_say_why),
		cmocka_unit_test(command_is_found_by_name),
		cmocka_unit_test(usage_lines_name_every_command),
		cmocka_unit_test(synopsis_and_table_dumps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
