/*
 * main.c - orch-controller: options, start-up, the loop, and an orderly
 * shutdown that frees everything (instances keep running: they belong to
 * the slaves, and a restarted controller picks them up from heartbeats).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller.h"
#include "creds.h"
#include "err.h"
#include "session.h"
#include "log.h"
#include "units.h"

static void __attribute__((noreturn))
usage(const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "orch-controller: %s\n", msg);
	fprintf(stderr,
	    "usage: orch-controller --repo PATH_OR_URL [--branch main] [--manifest orch.yaml]\n"
	    "                       --data-dir DIR --listen ADDR:PORT --token-file F\n"
	    "                       [--public-read]\n"
	    "                       [--haproxy SOCKET [--haproxy-map FILE]]\n"
	    "                       [--node-suspect 5s] [--node-lost 10s] [--node-heartbeat 2s]\n"
	    "                       [--resync 5s] [--log-level debug|info|warn|error]\n"
	    "                       [--tls-cert F --tls-key F --tls-ca F]\n");
	exit(2);
}

static int64_t
duration_arg(const char *opt, const char *val)
{
	int64_t ms;
	char msg[512];

	if (orch_parse_duration(&ms, val) < 0 || ms <= 0) {
		snprintf(msg, sizeof(msg), "%s: want a positive duration like 3s (%s)", opt,
		    orch_err_last());
		usage(msg);
	}
	return ms;
}

/*
 * A node is Suspect after --node-suspect without a heartbeat: shorter than
 * two of the slaves' heartbeat periods, one late heartbeat (a busy host, a
 * retry) flips it, and nodes flap Ready <-> Suspect all day. The period is
 * the slaves' --heartbeat (2s by default), named here by --node-heartbeat;
 * without it each slave says its own when it registers (nodes.c warns).
 */
static void
check_node_timeouts(const struct ctl_config *cfg)
{
	char msg[512];

	if (cfg->node_lost_ms <= cfg->node_suspect_ms) {
		snprintf(msg, sizeof(msg), "--node-lost (%lldms) must be longer than "
		    "--node-suspect (%lldms)", (long long)cfg->node_lost_ms,
		    (long long)cfg->node_suspect_ms);
		usage(msg);
	}
	if (cfg->node_heartbeat_ms > 0 && cfg->node_suspect_ms < 2 * cfg->node_heartbeat_ms) {
		snprintf(msg, sizeof(msg), "--node-suspect (%lldms) must be at least twice "
		    "the slaves' heartbeat period --node-heartbeat (%lldms): shorter, nodes "
		    "flap between Ready and Suspect; use --node-suspect %lldms or more, or "
		    "start the slaves with a shorter --heartbeat",
		    (long long)cfg->node_suspect_ms, (long long)cfg->node_heartbeat_ms,
		    (long long)(2 * cfg->node_heartbeat_ms));
		usage(msg);
	}
}

enum { O_REPO = 256, O_BRANCH, O_MANIFEST, O_DATA, O_LISTEN, O_TOKEN, O_HAPROXY,
    O_HAPMAP, O_SUSPECT, O_LOST, O_HEARTBEAT, O_RESYNC, O_LOGLEVEL, O_PUBREAD, O_HELP,
    O_TLS_CERT, O_TLS_KEY, O_TLS_CA };

/* One option (getopt_long's ch, its value in optarg). */
static void
parse_option(struct ctl_config *cfg, int ch, char **argv)
{
	char msg[512];

	switch (ch) {
	case O_REPO: cfg->repo = optarg; break;
	case O_BRANCH: cfg->branch = optarg; break;
	case O_MANIFEST: cfg->manifest = optarg; break;
	case O_DATA: cfg->data_dir = optarg; break;
	case O_LISTEN: cfg->listen = optarg; break;
	case O_TOKEN: cfg->token_file = optarg; break;
	case O_HAPROXY: cfg->haproxy = optarg; break;
	case O_HAPMAP: cfg->haproxy_map = optarg; break;
	case O_SUSPECT: cfg->node_suspect_ms = duration_arg("--node-suspect", optarg); break;
	case O_LOST: cfg->node_lost_ms = duration_arg("--node-lost", optarg); break;
	case O_HEARTBEAT: cfg->node_heartbeat_ms = duration_arg("--node-heartbeat", optarg); break;
	case O_RESYNC: cfg->resync_ms = duration_arg("--resync", optarg); break;
	case O_PUBREAD: cfg->public_read = true; break;
	case O_TLS_CERT: cfg->tls.cert = optarg; break;
	case O_TLS_KEY: cfg->tls.key = optarg; break;
	case O_TLS_CA: cfg->tls.ca = optarg; break;
	case O_LOGLEVEL: {
		enum log_level level;

		if (!log_level_parse(&level, optarg))
			usage("--log-level: want debug, info, warn or error");
		cfg->log_level = level;
		break;
	}
	case O_HELP:
		usage(NULL);
	default:
		if (optopt >= 256 || (optopt == 0 && argv[optind - 1][0] == '-')) {
			snprintf(msg, sizeof(msg), "%s: unknown option or missing value",
			    argv[optind - 1]);
			usage(msg);
		}
		usage("unknown option");
	}
}

/* The required options, and what the values mean together. */
static void
check_config(struct ctl_config *cfg)
{
	char addr[64];
	int port;

	if (cfg->repo == NULL)
		usage("--repo is required");
	if (cfg->data_dir == NULL)
		usage("--data-dir is required");
	if (cfg->listen == NULL)
		usage("--listen is required");
	if (cfg->token_file == NULL)
		usage("--token-file is required");
	if (httpd_parse_listen(addr, sizeof(addr), &port, cfg->listen) < 0)
		usage(orch_err_last());
	if (*cfg->branch == '\0' || *cfg->manifest == '\0')
		usage("--branch and --manifest must not be empty");
	if (tls_files_check_server(&cfg->tls) < 0)
		usage(orch_err_last());
	check_node_timeouts(cfg);
}

static void
parse_args(struct ctl_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{"repo", required_argument, NULL, O_REPO},
		{"branch", required_argument, NULL, O_BRANCH},
		{"manifest", required_argument, NULL, O_MANIFEST},
		{"data-dir", required_argument, NULL, O_DATA},
		{"listen", required_argument, NULL, O_LISTEN},
		{"token-file", required_argument, NULL, O_TOKEN},
		{"haproxy", required_argument, NULL, O_HAPROXY},
		{"haproxy-map", required_argument, NULL, O_HAPMAP},
		{"node-suspect", required_argument, NULL, O_SUSPECT},
		{"node-lost", required_argument, NULL, O_LOST},
		{"node-heartbeat", required_argument, NULL, O_HEARTBEAT},
		{"resync", required_argument, NULL, O_RESYNC},
		{"log-level", required_argument, NULL, O_LOGLEVEL},
		{"public-read", no_argument, NULL, O_PUBREAD},
		{"help", no_argument, NULL, O_HELP},
		{"tls-cert", required_argument, NULL, O_TLS_CERT},
		{"tls-key", required_argument, NULL, O_TLS_KEY},
		{"tls-ca", required_argument, NULL, O_TLS_CA},
		{NULL, 0, NULL, 0},
	};
	int ch;

	cfg->branch = "main";
	cfg->manifest = "orch.yaml";
	cfg->node_suspect_ms = 5000; /* 2.5 heartbeats of a slave's default 2s */
	cfg->node_lost_ms = 10000;
	cfg->resync_ms = 5000;
	cfg->haproxy_map = "/etc/haproxy/orch.map"; /* docs/haproxy.md */
	cfg->log_level = LOG_LEVEL_INFO;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
		parse_option(cfg, ch, argv);
	if (optind < argc)
		usage("unexpected arguments");
	check_config(cfg);
}

/* The credentials file: a bare token is admin. The controller commands
 * slaves with its controller credential, else with an admin one (the
 * bare token of a cluster on one token). */
static int
load_creds(struct ctl *c)
{
	const char *send;
	int rc;

	if ((rc = creds_load(&c->creds, c->cfg.token_file, ORCH_ROLE_ADMIN)) < 0)
		return rc;
	if ((send = creds_token(c->creds, ORCH_ROLE_CONTROLLER)) == NULL)
		send = creds_token(c->creds, ORCH_ROLE_ADMIN);
	if (send == NULL)
		return orch_err_set(ORCH_EINVALID, "credentials file %s: no controller or admin"
		    " line, so no credential to command the slaves with", c->cfg.token_file);
	if ((c->token = strdup(send)) == NULL || (c->sessions = sessions_new()) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	if (c->cfg.public_read)
		log_info("--public-read: reads need no credential");
	return 0;
}

/* Credentials and TLS files, then the data dir, locked. 0, or -1 (logged). */
static int
prepare(struct ctl *c, int *lockfd)
{
	char path[4096];

	if (load_creds(c) < 0) {
		log_warnx("%s", orch_err_last());
		return -1;
	}
	/* One certificate serves the API and, as the controller's client
	 * certificate, the calls to slaves (who accept only O=controller). */
	if (tls_files_any(&c->cfg.tls)) {
		if (tls_server_load(&c->tls_srv, &c->cfg.tls) < 0) {
			log_warnx("%s", orch_err_last());
			return -1;
		}
		c->tls.files = c->cfg.tls;
	}
	if (mkdir(c->cfg.data_dir, 0750) < 0 && errno != EEXIST) {
		log_warn("mkdir %s", c->cfg.data_dir);
		return -1;
	}
	/* One controller per data dir: two would both think they lead. */
	snprintf(path, sizeof(path), "%s/controller.lock", c->cfg.data_dir);
	if ((*lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(*lockfd, LOCK_EX | LOCK_NB) < 0) {
		log_warn("%s: another orch-controller uses this data dir", path);
		return -1;
	}
	return 0;
}

/* The store and what it holds, the repository, the loop and the API.
 * 0, or -1 (logged). */
static int
bring_up(struct ctl *c)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/state.db", c->cfg.data_dir);
	if (store_open_sqlite(&c->store, path) < 0) {
		log_warnx("%s", orch_err_last());
		return -1;
	}
	snprintf(path, sizeof(path), "%s/git", c->cfg.data_dir);
	if (manifest_git_open(&c->git, c->cfg.repo, path) < 0) {
		log_warnx("repository %s: %s", c->cfg.repo, orch_err_last());
		return -1;
	}
	if (ctl_state_load(c) < 0 || ctl_loop_init(c) < 0 || ctl_api_start(c) < 0) {
		log_warnx("%s", orch_err_last());
		return -1;
	}
	/* The nodes' heartbeat windows and the reconcile's grace start now
	 * that heartbeats can arrive: a slow start (a large store, a loaded
	 * host) is the controller's time away, not the nodes'. Counted from
	 * the process's start, 2.5 s of start-up under ASan made both nodes
	 * Lost on arrival with --node-lost 3s (issue 11). */
	c->start_mono = orch_mono_ms();
	for (struct ctl_node *n = c->nodes; n != NULL; n = n->next)
		if (!n->seen)
			n->last_hb_mono = c->start_mono;
	return 0;
}

int
main(int argc, char **argv)
{
	struct ctl c;
	int rc = 1, lockfd = -1;

	memset(&c, 0, sizeof(c));
	parse_args(&c.cfg, argc, argv);
	log_init("orch-controller", c.cfg.log_level, NULL);
	c.start_mono = orch_mono_ms();
	if (prepare(&c, &lockfd) < 0 || bring_up(&c) < 0)
		goto out;
	log_info("controller started repo=%s branch=%s manifest=%s node_suspect=%lldms "
	    "node_lost=%lldms resync=%lldms", c.cfg.repo, c.cfg.branch, c.cfg.manifest,
	    (long long)c.cfg.node_suspect_ms, (long long)c.cfg.node_lost_ms,
	    (long long)c.cfg.resync_ms);
	if (ctl_loop_run(&c) < 0) {
		log_warnx("%s", orch_err_last());
		goto out;
	}
	rc = 0;
out:
	/* The server first: it answers the deferred logs requests and ends
	 * the event streams, whose owners (transfers, c.sse) still exist. */
	httpd_free(c.http);
	ctl_loop_free(&c);
	ctl_slaves_free(&c);
	ctl_nodes_removed_free(&c);
	ctl_alerts_free(&c);
	ctl_state_free(&c);
	manifest_git_free(c.git);
	if (c.store != NULL)
		store_close(c.store);
	if (c.token != NULL)
		explicit_bzero(c.token, strlen(c.token));
	free(c.token);
	creds_free(c.creds);
	sessions_free(c.sessions);
	tls_server_free(c.tls_srv);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
