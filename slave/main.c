/*
 * main.c - orch-slave: arguments, start-up, the loop, and a clean exit.
 *
 * SIGTERM ends the slave but not its instances: they run in their own
 * sessions, hold their own log files, and are re-adopted by the next
 * slave that starts on the same --data-dir (state.c). Only the slave's
 * own helpers (health probes) are stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "creds.h"
#include "err.h"
#include "log.h"
#include "procfs.h"
#include "slave.h"
#include "units.h"

static void __attribute__((noreturn))
usage(const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "orch-slave: %s\n", msg);
	fprintf(stderr,
	    "usage: orch-slave --name NODE --controller URL --listen ADDR:PORT --data-dir DIR\n"
	    "                  --token-file F [--labels k=v,...] [--cpu N] [--memory SIZE]\n"
	    "                  [--port-range LO-HI] [--heartbeat DURATION] [--max-body SIZE]\n"
	    "                  [--idle-timeout DURATION] [--log-max SIZE] [--advertise ADDR]\n"
	    "                  [--no-cgroup] [--default-user USER]\n"
	    "                  [--tls-cert F --tls-key F --tls-ca F]\n"
	    "                  [--log-level debug|info|warn]\n");
	exit(2);
}

/*
 * The credentials file (common/creds.h). A bare token is both what the
 * slave sends to the controller and the controller's credential here.
 * Else its node:NAME line is what it sends (NAME must be --name), and
 * its controller line is who may command it (read lines may scrape
 * /metrics).
 */
static int
load_creds(struct slave *s, const char *path)
{
	const struct orch_principal *me;
	int rc;

	if ((rc = creds_load(&s->creds, path, ORCH_ROLE_CONTROLLER)) < 0)
		return rc;
	if (creds_bare(s->creds))
		me = creds_principal(s->creds, ORCH_ROLE_CONTROLLER);
	else if ((me = creds_principal(s->creds, ORCH_ROLE_NODE)) == NULL ||
	    strcmp(me->name, s->cfg.name) != 0)
		return orch_err_set(ORCH_EINVALID, "credentials file %s: want a \"node:%s TOKEN\""
		    " line (this slave's --name), the credential it reports with", path,
		    s->cfg.name);
	if (creds_principal(s->creds, ORCH_ROLE_CONTROLLER) == NULL)
		return orch_err_set(ORCH_EINVALID, "credentials file %s: want a \"controller"
		    " TOKEN\" line: no one else may command this slave", path);
	if ((s->cfg.token = strdup(creds_token(s->creds, me->role))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	return 0;
}

static int
split_labels(struct slave_config *c, char *arg)
{
	for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
		char **v = realloc(c->labels, (c->nlabels + 1) * sizeof(*v));

		if (strchr(tok, '=') == NULL || tok[0] == '=')
			return orch_err_set(ORCH_EINVALID, "--labels: \"%s\" is not k=v", tok);
		if (v == NULL)
			return orch_err_set(ORCH_ERROR, "out of memory");
		c->labels = v;
		if ((c->labels[c->nlabels] = strdup(tok)) == NULL)
			return orch_err_set(ORCH_ERROR, "out of memory");
		c->nlabels++;
	}
	return 0;
}

/* One option (getopt_long's ch, its value in optarg). */
static void
parse_option(struct slave_config *c, int ch, char **out_token_file,
    enum log_level *out_level)
{
	char *end;
	uint64_t sz;
	int lo, hi;

	switch (ch) {
	case 'n':
		if (!proto_name_valid(optarg))
			usage("--name: want [A-Za-z0-9_.-]");
		c->name = optarg;
		break;
	case 'c':
		if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
			usage("--controller: want an http:// or https:// URL");
		c->controller = optarg;
		break;
	case 'l': c->listen = optarg; break;
	case 'd': c->data_dir = optarg; break;
	case 't': *out_token_file = optarg; break;
	case 'a': c->address = optarg; break;
	case 'G': c->no_cgroup = true; break;
	case 'U': c->default_user = optarg; break;
	case 'T': c->tls.cert = optarg; break;
	case 'K': c->tls.key = optarg; break;
	case 'A': c->tls.ca = optarg; break;
	case 'L':
		if (split_labels(c, optarg) < 0)
			usage(orch_err_last());
		break;
	case 'C':
		c->cpu = strtod(optarg, &end);
		if (*end || c->cpu <= 0)
			usage("--cpu: want a positive number");
		break;
	case 'M':
		if (orch_parse_size(&c->memory, optarg) < 0 || c->memory == 0)
			usage("--memory: want a size such as 4G");
		break;
	case 'p':
		if (sscanf(optarg, "%d-%d", &lo, &hi) != 2 || lo < 1 || hi > 65535 || lo > hi)
			usage("--port-range: want LO-HI within 1-65535");
		c->port_lo = lo;
		c->port_hi = hi;
		break;
	case 'H':
		if (orch_parse_duration(&c->heartbeat_ms, optarg) < 0 || c->heartbeat_ms < 10)
			usage("--heartbeat: want a duration such as 2s");
		break;
	case 'b':
		if (orch_parse_size(&sz, optarg) < 0 || sz < 1024)
			usage("--max-body: want a size of at least 1K");
		c->max_body = (size_t)sz;
		break;
	case 'i':
		if (orch_parse_duration(&c->idle_timeout_ms, optarg) < 0 ||
		    c->idle_timeout_ms < 1000 || c->idle_timeout_ms > 3600000)
			usage("--idle-timeout: want a duration from 1s to 1h");
		break;
	case 'r':
		if (orch_parse_size(&c->log_max, optarg) < 0 || c->log_max < 1024)
			usage("--log-max: want a size of at least 1K");
		break;
	case 'v':
		if (!log_level_parse(out_level, optarg) || *out_level == LOG_LEVEL_ERROR)
			usage("--log-level: want debug, info or warn");
		break;
	case 'h':
		usage(NULL);
	default:
		usage(NULL);
	}
}

/* What the options mean together: the required ones, the default user,
 * TLS all or nothing and with an https:// controller. */
static void
check_config(struct slave_config *c, const char *token_file)
{
	char msg[512];

	if (c->name == NULL || c->listen == NULL || c->data_dir == NULL || token_file == NULL)
		usage("--name, --listen, --data-dir and --token-file are required");
	/* As root, every instance without user: runs as this user: one
	 * that does not exist would fail them all, so refuse at the start. */
	if (c->default_user == NULL)
		c->default_user = "nobody";
	if (geteuid() == 0 && getpwnam(c->default_user) == NULL) {
		snprintf(msg, sizeof(msg), "--default-user: no user named \"%s\"", c->default_user);
		usage(msg);
	}
	if (tls_files_check_server(&c->tls) < 0)
		usage(orch_err_last());
	/* Mutual TLS both ways: the controller, too, is reached over TLS. */
	if (tls_files_any(&c->tls) && c->controller != NULL &&
	    strncmp(c->controller, "https://", 8) != 0)
		usage("--controller: with --tls-cert, want an https:// URL");
}

static void
parse_args(struct slave_config *c, int argc, char **argv, char **out_token_file,
    enum log_level *out_level)
{
	static const struct option opts[] = {
		{"name", required_argument, NULL, 'n'},
		{"controller", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 'l'},
		{"data-dir", required_argument, NULL, 'd'},
		{"token-file", required_argument, NULL, 't'},
		{"labels", required_argument, NULL, 'L'},
		{"cpu", required_argument, NULL, 'C'},
		{"memory", required_argument, NULL, 'M'},
		{"port-range", required_argument, NULL, 'p'},
		{"heartbeat", required_argument, NULL, 'H'},
		{"max-body", required_argument, NULL, 'b'},
		{"idle-timeout", required_argument, NULL, 'i'},
		{"log-max", required_argument, NULL, 'r'},
		{"advertise", required_argument, NULL, 'a'},
		{"address", required_argument, NULL, 'a'}, /* the older spelling */
		{"no-cgroup", no_argument, NULL, 'G'},
		{"default-user", required_argument, NULL, 'U'},
		{"log-level", required_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"tls-cert", required_argument, NULL, 'T'},
		{"tls-key", required_argument, NULL, 'K'},
		{"tls-ca", required_argument, NULL, 'A'},
		{NULL, 0, NULL, 0},
	};
	char msg[512];
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
		parse_option(c, ch, out_token_file, out_level);
	if (optind < argc) {
		snprintf(msg, sizeof(msg), "unexpected argument \"%s\"", argv[optind]);
		usage(msg);
	}
	check_config(c, *out_token_file);
}

/* Whether uid (with groups) may search the dir st describes. */
static bool
may_search(const struct stat *st, uid_t uid, const gid_t *groups, int ngroups)
{
	if (st->st_uid == uid)
		return st->st_mode & S_IXUSR;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == st->st_gid)
			return st->st_mode & S_IXGRP;
	return st->st_mode & S_IXOTH;
}

/* A root slave's instances run as --default-user and find their data dir
 * by its full path (ORCH_DATA_DIR): say at the start when that user
 * cannot search the data dir or one above it (/root is 0700 on Debian),
 * rather than let every instance fail on its first write. */
static void
warn_unreachable_data_dir(const struct slave_config *c)
{
	char path[4096];
	struct passwd *pw;
	struct stat st;
	gid_t groups[256];
	int ng = 256;

	if (geteuid() != 0 || (pw = getpwnam(c->default_user)) == NULL)
		return;
	if (getgrouplist(c->default_user, pw->pw_gid, groups, &ng) < 0)
		ng = 0;
	snprintf(path, sizeof(path), "%s", c->data_dir);
	for (char *p = path + 1;; p++) {
		char was = *p;

		if (was != '/' && was != '\0')
			continue;
		*p = '\0';
		if (stat(path, &st) == 0 && !may_search(&st, pw->pw_uid, groups, ng)) {
			log_warnx("--data-dir %s: instances without user: run as %s, "
			    "which cannot search %s (mode %03o): they cannot reach their "
			    "ORCH_DATA_DIR", c->data_dir, c->default_user, path,
			    (unsigned)(st.st_mode & 0777));
			return;
		}
		if ((*p = was) == '\0')
			return;
	}
}

/* Instance ports inside the kernel's ephemeral range can be taken by any
 * outgoing connection at any time: say so once. */
static void
warn_ephemeral_overlap(const struct slave_config *c)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	int lo, hi;

	if (f == NULL)
		return;
	if (fscanf(f, "%d %d", &lo, &hi) == 2 && c->port_lo <= hi && lo <= c->port_hi)
		log_warnx("--port-range %d-%d overlaps the ephemeral ports %d-%d; "
		    "an outgoing connection may hold an instance's port", c->port_lo,
		    c->port_hi, lo, hi);
	fclose(f);
}

/*
 * --advertise: the address the controller uses to reach this slave, HOST
 * or HOST:PORT (HOST alone takes the port the API listens on). Without
 * it the --listen address is advertised, which a wildcard cannot be:
 * 0.0.0.0 is no address the controller can connect to, and picking one
 * of the host's addresses for it (the first interface, the hostname's)
 * is a guess that is wrong on any host with more than one. So a slave
 * with a controller refuses to start on a wildcard listen address
 * without --advertise, rather than register an address that fails every
 * command (docs/slave.md).
 */
static void
check_advertise(const struct slave_config *c)
{
	const char *adv = c->address, *colon;
	char host[128], *end;
	long port;
	int lport;

	if (adv == NULL) {
		if (c->controller != NULL &&
		    httpd_parse_listen(host, sizeof(host), &lport, c->listen) == 0 &&
		    strcmp(host, "0.0.0.0") == 0)
			usage("--listen 0.0.0.0 listens on every address of this host and names "
			    "none the controller can reach: add --advertise ADDR, the address "
			    "(HOST or HOST:PORT) the controller should use");
		return;
	}
	colon = strrchr(adv, ':');
	if (colon == NULL)
		colon = adv + strlen(adv);
	if (colon == adv || (size_t)(colon - adv) >= sizeof(host) ||
	    memchr(adv, ':', (size_t)(colon - adv)) != NULL)
		usage("--advertise: want HOST or HOST:PORT");
	memcpy(host, adv, (size_t)(colon - adv));
	host[colon - adv] = '\0';
	if (strcmp(host, "0.0.0.0") == 0)
		usage("--advertise: 0.0.0.0 is not an address the controller can reach");
	if (*colon == ':') {
		port = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
			usage("--advertise: want a port from 1 to 65535 after HOST:");
	}
}

/* The address to report (buf holds it when built): --advertise, with the
 * listening port when it names none, else --listen with the real port
 * (with port 0 the kernel picked one). */
static const char *
advertised(char *buf, size_t len, const struct slave_config *c, const char *listen_host,
    int port)
{
	if (c->address != NULL && strchr(c->address, ':') != NULL)
		return c->address;
	snprintf(buf, len, "%s:%d", c->address != NULL ? c->address : listen_host, port);
	return buf;
}

/* The data dir as an absolute path: it names this slave's instances in
 * their ORCH_DATA_DIR (orphan.c tells its own processes by it), and an
 * instance whose working directory is its artifact dir must be able to
 * use it. Symlinks are kept as given. */
static char *
absolute_dir(const char *dir)
{
	char cwd[4096], *p;

	if (dir[0] == '/')
		return strdup(dir);
	if (getcwd(cwd, sizeof(cwd)) == NULL || asprintf(&p, "%s/%s", cwd, dir) < 0)
		return NULL;
	return p;
}

static uint64_t
physical_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

static void
free_all(struct slave *s)
{
	struct instance *in;

	while ((in = s->instances) != NULL) {
		s->instances = in->next;
		inst_free(s, in);
	}
	report_free(s);
	httpd_free(s->httpd);
	loop_free(s);
	cgroup_free(s);
	for (size_t i = 0; i < s->cfg.nlabels; i++)
		free(s->cfg.labels[i]);
	free(s->cfg.labels);
	if (s->cfg.token != NULL)
		explicit_bzero(s->cfg.token, strlen(s->cfg.token));
	free(s->cfg.token);
	creds_free(s->creds);
	tls_server_free(s->tls_srv);
}

/* Defaults, the command line, then what the machine says (cores,
 * memory) where the flags do not. */
static void
configure(struct slave *s, int argc, char **argv, char **token_file)
{
	enum log_level level = LOG_LEVEL_INFO;

	memset(s, 0, sizeof(*s));
	s->cfg.port_lo = 20000;
	s->cfg.port_hi = 29999;
	s->cfg.heartbeat_ms = 2000;
	s->cfg.max_body = 1024 * 1024;
	s->cfg.idle_timeout_ms = 10000;
	s->cfg.log_max = 10 * 1024 * 1024;
	parse_args(&s->cfg, argc, argv, token_file, &level);
	log_init("orch-slave", level, NULL);
	if (s->cfg.cpu == 0)
		s->cfg.cpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
	if (s->cfg.memory == 0)
		s->cfg.memory = physical_memory();
	check_advertise(&s->cfg);
	srandom((unsigned)(time(NULL) ^ getpid()));
	warn_ephemeral_overlap(&s->cfg);
}

/* What must hold before anything runs: the credentials, the TLS files,
 * and the data dir, locked. 0, or -1 (logged). */
static int
prepare(struct slave *s, const char *token_file, char **data_dir, int *lockfd)
{
	char lockpath[4096];

	if ((*data_dir = absolute_dir(s->cfg.data_dir)) == NULL) {
		log_warn("--data-dir %s", s->cfg.data_dir);
		return -1;
	}
	s->cfg.data_dir = *data_dir;
	if (load_creds(s, token_file) < 0) {
		log_warnx("%s", orch_err_last());
		return -1;
	}
	/* One certificate (O=node, CN=the node's name) serves the API and is
	 * the client certificate of the reports to the controller. */
	if (tls_files_any(&s->cfg.tls)) {
		if (tls_server_load(&s->tls_srv, &s->cfg.tls) < 0) {
			log_warnx("%s", orch_err_last());
			return -1;
		}
		s->tls.files = s->cfg.tls;
	}
	if (mkdir(s->cfg.data_dir, 0711) < 0 && errno != EEXIST) {
		log_warn("mkdir %s", s->cfg.data_dir);
		return -1;
	}
	warn_unreachable_data_dir(&s->cfg);
	/* One slave per data dir: a second would fight over the instances. */
	snprintf(lockpath, sizeof(lockpath), "%s/slave.lock", s->cfg.data_dir);
	if ((*lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(*lockfd, LOCK_EX | LOCK_NB) < 0) {
		log_warn("%s: another orch-slave uses this data dir", lockpath);
		return -1;
	}
	return 0;
}

/* The loop, the reports, cgroups, the state of the last run and its
 * orphans, then the API. 0, or -1 (logged). */
static int
bring_up(struct slave *s)
{
	char addr[128];

	/* Orphaned grandchildren of instances come to us and are reaped,
	 * never left as zombies. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		log_warn("prctl(PR_SET_CHILD_SUBREAPER)");
	signal(SIGPIPE, SIG_IGN);
	if (loop_init(s) < 0 || report_init(s) < 0) {
		log_warnx("%s", orch_err_last());
		return -1;
	}
	cgroup_detect(s);
	if (state_load(s) < 0)
		log_warnx("%s (starting with no instances)", orch_err_last());
	/* Before the API answers or the controller hears of us: it must
	 * never see a pet of ours twice. */
	orphan_sweep(s);
	if (api_start(s) < 0) {
		log_warnx("%s", orch_err_last());
		return -1;
	}
	/* All is open now: libcurl's socketpair (opened without O_CLOEXEC),
	 * the listener, what our parent left us. No instance inherits any of
	 * it (issue 12; spawn.c marks them again in the child). */
	if (orch_procfs_cloexec_all() < 0)
		log_warn("/proc/self/fd");
	if (httpd_parse_listen(addr, sizeof(addr), &(int){0}, s->cfg.listen) == 0) {
		s->cfg.address = advertised(s->address, sizeof(s->address), &s->cfg, addr,
		    httpd_port(s->httpd));
		log_info("node=%s listening on %s:%d advertise=%s data_dir=%s controller=%s",
		    s->cfg.name, addr, httpd_port(s->httpd), s->cfg.address, s->cfg.data_dir,
		    s->cfg.controller ? s->cfg.controller : "(none: standalone)");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct slave s;
	char *token_file = NULL, *data_dir = NULL;
	int lockfd = -1, rc = 1;
	bool curl = false;

	configure(&s, argc, argv, &token_file);
	if (prepare(&s, token_file, &data_dir, &lockfd) < 0)
		goto out;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_warnx("curl_global_init failed");
		goto out;
	}
	curl = true;
	if (bring_up(&s) < 0)
		goto out;
	if (loop_run(&s) == 0)
		rc = 0;
	else
		log_warnx("%s", orch_err_last());
	state_save(&s);
	api_acks_flush(&s);
	log_info("node=%s stopped; %zu instances left running", s.cfg.name, s.ninstances);
out:
	free_all(&s);
	if (curl)
		curl_global_cleanup();
	if (lockfd >= 0)
		close(lockfd);
	free(data_dir);
	return rc;
}
