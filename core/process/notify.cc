#include "core/process/notify.h"

#include <systemd/sd-daemon.h>

#include <ctime>
#include <string>

namespace lbd::process {

void notify_ready() { sd_notify(0, "READY=1\nSTATUS=serving"); }

void notify_stopping() { sd_notify(0, "STOPPING=1\nSTATUS=draining connections"); }

// MONOTONIC_USEC lets systemd 253+ (Type=notify-reload) match this reload to
// the signal it sent; systemd 252 ignores it.
ReloadNotice::ReloadNotice() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    unsigned long long usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL + now.tv_nsec / 1000;
    std::string message = "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + std::to_string(usec);
    sd_notify(0, message.c_str());
}

ReloadNotice::~ReloadNotice() { sd_notify(0, "READY=1\nSTATUS=serving"); }

}  // namespace lbd::process
