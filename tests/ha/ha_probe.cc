// lbd_ha_probe: the client and backend of the HA failover scenarios
// (tests/ha/scenarios.sh), one small binary so the network namespaces and
// the Vagrant lab run the same thing.
//
//   serve NAME PORT [--bind IP]
//       A backend: answers every TCP connection with "NAME PEER_IP\n" and
//       closes it. PEER_IP is the address the connection came from, i.e. the
//       lbd node that forwarded it: that is how the client tells which node
//       of the pair answered. epoll, non-blocking: many connections at once.
//   poll ADDR:PORT [--interval-ms 20] [--timeout-ms 200] [--source IP] [--overlap]
//        [--until-file F] [--duration-ms N] [--count N] [--log F]
//       A client: one connection every interval (start to start), each with
//       its own deadline. Stops at the first of: F exists, N ms passed, N
//       attempts made. Prints one JSON object: the start (epoch ms),
//       attempts, answers, the longest gap between two answers, the gap
//       across the switch from the first node to another, and counts per
//       node ("via"), server and error. --log appends "T_MS ok SERVER VIA
//       BEGAN_MS" / "T_MS fail - ERROR BEGAN_MS" per attempt (ms since the
//       start, when it ended and began), flushed, so a script can watch
//       progress. --overlap starts
//       every attempt on time even while earlier ones still wait (their SYN
//       lost with a node that went away): the gaps then measure the outage
//       within an interval, not within interval + deadline.
//   stick SRC_IP[,SRC_IP...] ADDR:PORT [--timeout-ms 1000]
//       One connection from each source address, in the order given (bind(2)
//       before connect(2)); prints "SRC SERVER VIA" per source ("SRC - ERROR"
//       when it failed). Exit 1 if any failed.
//   json PATH... < DOCUMENT
//       Prints the value at each PATH of the JSON document on stdin, one per
//       line, so the scripts need no jq. PATH: dot-separated keys (or
//       '/'-separated after a leading '/', for keys with dots: /via/10.0.0.1);
//       a numeric key indexes an array; "#" is an array's or object's size;
//       key[f=v,g=w] picks the first element of the array `key` whose fields
//       f and g are the strings v and w. Exit 1 if a path is missing.
//
// Exit codes: 0 done, 1 failed (see above), 2 usage.

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include "probe.h"

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"lbd_ha_probe: client and backend of the lbd HA failover scenarios"};
    app.require_subcommand(1);

    std::string name, bind_ip = "0.0.0.0";
    uint16_t port = 0;
    auto* serve_cmd = app.add_subcommand("serve", "A backend: answer each connection with 'NAME PEER_IP' and close");
    serve_cmd->add_option("NAME", name, "This backend's name")->required();
    serve_cmd->add_option("PORT", port, "TCP port")->required();
    serve_cmd->add_option("--bind", bind_ip, "Address to listen on")->capture_default_str();

    probe::PollOptions poll;
    auto* poll_cmd = app.add_subcommand("poll", "Connect every interval; print answers and the longest gap as JSON");
    poll_cmd->add_option("TARGET", poll.target, "IPv4:PORT")->required();
    poll_cmd->add_option("--interval-ms", poll.interval_ms, "Start-to-start interval")->capture_default_str();
    poll_cmd->add_option("--timeout-ms", poll.timeout_ms, "Deadline of one connection")->capture_default_str();
    poll_cmd->add_option("--source", poll.source, "Source address to bind");
    poll_cmd->add_option("--until-file", poll.until_file, "Stop once this file exists");
    poll_cmd->add_option("--duration-ms", poll.duration_ms, "Stop after this long");
    poll_cmd->add_option("--count", poll.count, "Stop after this many attempts");
    poll_cmd->add_option("--log", poll.log_file, "Append one line per attempt here");
    poll_cmd->add_flag("--overlap", poll.overlap, "Start each attempt on time, even while earlier ones wait out their deadline");

    std::string sources, target;
    int stick_timeout_ms = 1000;
    auto* stick_cmd = app.add_subcommand("stick", "One connection from each source address; print who answered");
    stick_cmd->add_option("SOURCES", sources, "Comma-separated IPv4 source addresses")->required();
    stick_cmd->add_option("TARGET", target, "IPv4:PORT")->required();
    stick_cmd->add_option("--timeout-ms", stick_timeout_ms, "Deadline of one connection")->capture_default_str();

    std::vector<std::string> paths;
    auto* json_cmd = app.add_subcommand("json", "Print values of the JSON document on stdin");
    json_cmd->add_option("PATH", paths, "a.b.0.c, list.#, list[field=value].c, /key.with.dots/d")->required();

    CLI11_PARSE(app, argc, argv);
    if (serve_cmd->parsed()) return probe::serve(name, port, bind_ip);
    if (poll_cmd->parsed()) return probe::poll_target(poll);
    if (stick_cmd->parsed()) return probe::stick(sources, target, stick_timeout_ms);
    if (json_cmd->parsed()) return probe::json_get(paths);
    return 2;
}
