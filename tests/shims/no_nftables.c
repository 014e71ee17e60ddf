/* no_nftables.c - LD_PRELOAD shim: libnftables fails the way it does on a
 * kernel without nf_tables, so tests can check what airlock does then
 * (`airlock run`'s cooperative mode) on a machine that has it.
 *
 * Only the two calls airlock makes to run commands and read their errors
 * are replaced; everything else is the real libnftables.
 */
#include <stddef.h>

struct nft_ctx;

int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf);
const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx);

int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf)
{
	(void)nft;
	(void)buf;
	return -1;
}

const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx)
{
	(void)ctx;
	return "Error: Could not process rule: Protocol not supported (test shim)\n";
}
