// libsystemd's daemon API (sd_notify, sd_listen_fds, sd_watchdog_enabled) for the pybgd daemon.
#include <systemd/sd-daemon.h>
