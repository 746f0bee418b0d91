// keepalived's configuration, rendered from lbd's own (global.ha).
//
// keepalived is the VRRP engine; lbd owns its config, so both nodes of a pair
// get theirs from the same checked source and an operator never edits
// keepalived.conf by hand. Pure function: no I/O, callable from any thread.
#pragma once

#include <string>

#include "core/config/config.h"

namespace lbd::ha {

// The track_file scheme. lbd writes one of these numbers (as text, then a
// newline) to VrrpConfig::track_file; keepalived multiplies it by the weight
// (1) and adds it to the configured priority, clamped to 1..254, and puts
// the instance in FAULT when the sum is below -253 (keepalived.conf(5),
// "Track files"). Replace the file with rename(2) so keepalived never reads
// half a number. keepalived watches the file's directory with inotify from
// its start: the directory must exist by then (or the tracker is dropped)
// and must not be recreated later (the watch would stay on the old one); a
// deleted file reads as 0.
//
// Healthy and in sync with the peer: the configured priority.
inline constexpr int kTrackReady = 0;
// Starting, or not yet in sync: priority 1, so this node loses an election to
// a ready peer but still takes the VIP when it is alone. It is also the value
// keepalived writes when the file does not exist yet (init_file).
inline constexpr int kTrackNotReady = -253;
// Unhealthy: FAULT, so the VIP leaves this node now. A lower priority alone
// would not move it: with nopreempt the peer never takes over from a MASTER
// that still advertises.
inline constexpr int kTrackFault = -254;

struct RenderOptions {
    // track_process watches processes of this name (/proc/PID/comm, which the
    // kernel cuts to 15 characters). Two lbd nodes sharing one PID namespace
    // (the netns tests) need distinct names, e.g. symlinks lbd-a and lbd-b.
    std::string process_name = "lbd";
    // Render vrrp_track_process at all: only where keepalived can hear
    // process events (track_process_wanted() in track_watchdog.h decides).
    // Without it, lbd's watchdog writing FAULT to the track file is what
    // moves the VIP when lbd dies.
    bool track_process = true;
    // The lbd config the file is rendered from, named in its header.
    std::string source_path;
};

// "VI_<virtual_router_id>": the instance name in keepalived's logs and in the
// notify FIFO's lines (INSTANCE "VI_51" MASTER 150).
std::string vrrp_instance_name(const VrrpConfig& vrrp);

// A complete keepalived.conf for this node, with comments. `ha` is a loaded
// (checked) config: its values are written out as they are.
std::string render_keepalived_config(const HaConfig& ha, const RenderOptions& options);

}  // namespace lbd::ha
