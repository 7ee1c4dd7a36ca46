#!/bin/busybox sh
# /init of the capture initramfs (static busybox). The kernel command line carries
#   crash=LKDTM_TYPE   what to write to /sys/kernel/debug/provoke-crash/DIRECT
#   kwait=SECONDS      how long to wait for a trigger that does not return (lockups, hung task)
# (unknown key=value arguments of the kernel command line become init's environment).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
grep -q ' /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
# Hung tasks are reported after 5 s instead of 120 s.
[ -w /proc/sys/kernel/hung_task_timeout_secs ] && echo 5 >/proc/sys/kernel/hung_task_timeout_secs
echo "KCRASH-CAPTURE: start crash=${crash:-none} kwait=${kwait:-10}"
(echo "${crash:-none}" >/sys/kernel/debug/provoke-crash/DIRECT; echo "KCRASH-CAPTURE: trigger returned rc=$?") &
trigger=$!
# A trigger that never returns (lockup, hung task) ends the run after kwait seconds.
(sleep "${kwait:-10}"; echo "KCRASH-CAPTURE: wait over"; reboot -n -f) &
wait $trigger
echo "KCRASH-CAPTURE: done rc=$?"
sleep 2
reboot -n -f
