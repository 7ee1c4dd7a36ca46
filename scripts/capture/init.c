/* /init of the capture initramfs where Debian 12 has no busybox-static for the
 * architecture (riscv64): the same steps as init.sh, as a static C program.
 * Kernel command line: crash=LKDTM_TYPE kwait=SECONDS (they arrive in the environment). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, s, strlen(s)) < 0) {
		/* the crash may make the write fail; nothing to do */
	}
	close(fd);
}

static void end(void)
{
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

int main(void)
{
	const char *crash = getenv("crash");
	const char *w = getenv("kwait");
	int kwait = w ? atoi(w) : 10;
	char buf[128];
	pid_t trigger;
	int status, i;

	if (!crash)
		crash = "none";
	setvbuf(stdout, NULL, _IONBF, 0);
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mkdir("/dev", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	put("/proc/sys/kernel/hung_task_timeout_secs", "5\n");
	printf("KCRASH-CAPTURE: start crash=%s kwait=%d\n", crash, kwait);
	trigger = fork();
	if (trigger == 0) {
		snprintf(buf, sizeof(buf), "%s\n", crash);
		int fd = open("/sys/kernel/debug/provoke-crash/DIRECT", O_WRONLY);
		int rc = fd < 0 ? 1 : write(fd, buf, strlen(buf)) < 0;
		printf("KCRASH-CAPTURE: trigger returned rc=%d\n", rc);
		_exit(rc);
	}
	for (i = 0; i < kwait; i++) {
		if (waitpid(trigger, &status, WNOHANG) == trigger) {
			printf("KCRASH-CAPTURE: done rc=%d\n",
			       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
			sleep(2);
			end();
		}
		sleep(1);
	}
	printf("KCRASH-CAPTURE: wait over\n");
	end();
	return 0;
}
