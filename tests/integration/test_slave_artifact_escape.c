/*
 * test_slave_artifact_escape.c - issue 12, through the real orch-slave:
 * an instance whose artifact (served over HTTP by this test, on
 * 127.0.0.1) is the dangling symlink chain of tarbuild.h. The instance's
 * command writes to "x" in its artifact dir; nothing may appear outside
 * that dir. The slave must refuse the artifact: the instance fails with
 * the unpacker's reason and nothing of the artifact stays on disk.
 */
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include "daemon.h"
#include "sha256.h"
#include "slave_fixture.h"
#include "tarbuild.h"

static struct tb served;

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **req)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	int ok = strcmp(url, "/evil.tar") == 0;

	r = ok ? MHD_create_response_from_buffer(served.len, served.buf,
	    MHD_RESPMEM_PERSISTENT) : MHD_create_response_from_buffer(2,
	    (void *)"no", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, ok ? 200 : 404, r);
	MHD_destroy_response(r);
	return ret;
}

static struct MHD_Daemon *
http_start(int *out_port)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, NULL,
	    MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
	if (d == NULL)
		return NULL;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*out_port = info ? info->port : 0;
	return d;
}

TEST(slave_artifact_escape__dangling_chain_fails_the_instance)
{
	char sha[SHA256_HEX_LEN + 1], body[4096], outside[700], artdir[800];
	char pwned[800], svcdir[800];
	uint8_t digest[SHA256_DIGEST_LEN];
	struct MHD_Daemon *httpd;
	struct stat st;
	json_t *j = NULL, *inst;
	struct fx fx;
	int port = 0;

	REQUIRE(fx_start(&fx, NULL) == 0);
	snprintf(outside, sizeof(outside), "%s/outside", fx.dir);
	REQUIRE(mkdir(outside, 0755) == 0);
	snprintf(pwned, sizeof(pwned), "%s/pwned", outside);
	/* Where the slave will unpack it: the chain is sized for that depth. */
	snprintf(artdir, sizeof(artdir), "%s/artifacts/evil/1.0.0", fx.data_dir);
	tb_open(&served, "pax", "gzip");
	tb_escape_chain(&served, artdir, outside);
	tb_close(&served);
	sha256_buf(digest, served.buf, served.len);
	sha256_hex(sha, digest);
	httpd = http_start(&port);
	REQUIRE(httpd != NULL && port > 0);

	snprintf(body, sizeof(body),
	    "{\"id\":\"evil-0\",\"service\":\"evil\",\"version\":\"1.0.0\","
	    "\"artifact\":{\"url\":\"http://127.0.0.1:%d/evil.tar\",\"sha256\":\"%s\"},"
	    "\"command\":[\"/bin/sh\",\"-c\",\"echo owned > x; exec sleep 60\"],"
	    "\"stop\":{\"timeout_ms\":1000}}", port, sha);
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	json_decref(j);
	CHECK(WAIT_FOR(fx_is(&fx, "evil-0", "state", "Failed"), FX_WAIT));
	inst = fx_instance(&fx, "evil-0");
	REQUIRE(inst != NULL);
	CHECK_CONTAINS(json_string_value(json_object_get(inst, "reason")),
	    "artifact: artifact http://127.0.0.1:");
	CHECK_CONTAINS(json_string_value(json_object_get(inst, "reason")),
	    "leads out of the artifact dir");
	CHECK_EQ_INT(json_integer_value(json_object_get(inst, "pid")), 0);
	json_decref(inst);
	/* Nothing written outside, nothing of the artifact left behind. */
	CHECK(stat(pwned, &st) < 0 && errno == ENOENT);
	CHECK_EQ_INT(dir_entries(outside), 0);
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/evil", fx.data_dir);
	CHECK_EQ_INT(dir_entries(svcdir), 0);
	fx_finish(&fx);
	MHD_stop_daemon(httpd);
	tb_free(&served);
}

CHECK_MAIN(slave_artifact_escape__dangling_chain_fails_the_instance)
