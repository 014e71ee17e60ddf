/* airlock doctor (being written). */
#include "cli/cli.h"

int cmd_doctor(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("doctor", "not built yet");
	return 1;
}
