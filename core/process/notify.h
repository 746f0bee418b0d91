// systemd's readiness protocol (sd_notify(3)) for Type=notify units. Each
// call is a no-op when NOTIFY_SOCKET is unset (lbd started by hand or by a
// test), so the daemon calls them unconditionally.
#pragma once

namespace lbd::process {

// Every listener and the admin socket are bound: systemd starts units
// ordered after lbd, and `systemctl start` returns.
void notify_ready();

// SIGTERM/SIGINT: lbd drains (systemctl shows "deactivating").
void notify_stopping();

// RELOADING=1 for its lifetime, READY=1 when it ends, whatever the outcome:
// `systemctl reload` waits for the reload, and a rejected one leaves lbd
// serving the previous config, so it is ready either way.
class ReloadNotice {
public:
    ReloadNotice();
    ~ReloadNotice();
    ReloadNotice(const ReloadNotice&) = delete;
    ReloadNotice& operator=(const ReloadNotice&) = delete;
};

}  // namespace lbd::process
