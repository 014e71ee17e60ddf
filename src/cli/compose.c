/* airlock compose (being written). */
#include "cli/cli.h"

int cmd_compose(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("compose", "not built yet");
	return 1;
}
