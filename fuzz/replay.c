/* Replays seed corpora through a harness: `replay_X DIR|FILE...`. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "util/file.h"

static int replay_file(const char *path, unsigned *count)
{
	char *data = NULL;
	size_t len;
	struct diag d;

	if (file_read_all(path, 16 * 1024 * 1024, &data, &len, &d) < 0) {
		fprintf(stderr, "replay: %s\n", d.msg);
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	free(data);
	(*count)++;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i], &count) < 0)
				return 1;
			continue;
		}
		DIR *dir = opendir(argv[i]);
		struct dirent *e;
		if (!dir) {
			perror(argv[i]);
			return 1;
		}
		while ((e = readdir(dir))) {
			char path[PATH_MAX];
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (replay_file(path, &count) < 0) {
				closedir(dir);
				return 1;
			}
		}
		closedir(dir);
	}
	if (count == 0) {
		fprintf(stderr, "replay: no input files\n");
		return 1;
	}
	printf("replayed %u inputs\n", count);
	return 0;
}
