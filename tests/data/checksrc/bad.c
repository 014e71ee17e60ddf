#include <fcntl.h>
void f(void);
void f(void)
{
	char b[4];
	int fd = open("/x", O_RDONLY);
	int s = socket(AF_INET,
		       SOCK_STREAM, 0);
	int ok = open("/x", O_RDONLY | O_CLOEXEC);
	sprintf(b, "x"); /* sprintf( in a comment is fine */
	const char *m = "strcpy(";
	FILE *f = fopen("/x", "r");
	FILE *g = fopen("/x", "re");
	pipe(p);
	x.accept(1);
}
