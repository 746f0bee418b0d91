#!/usr/bin/perl
# bench/l4_profile_fold.pl - folds `perf script -F pid,period,ip,sym,dso` of a whole-machine cpu-clock
# profile into CPU seconds per GiB by party and by kind of work, for bench/l4_cost.sh.
# Usage: perf script ... | l4_profile_fold.pl BYTES PARTY=PID[,PID...] ...
# A sample goes to the kind of its innermost frame that names one (the leaf itself is often
# pvm_irq_enable on this paravirtual guest: a timer sample that fell in an irqs-off section is
# taken where irqs come back on, so the frames above it say what the time was spent on).
use strict;
use warnings;

my ($bytes, @parties) = @ARGV;
my %party_of;
my @party_names;
for my $spec (@parties) {
    my ($name, $pids) = split /=/, $spec, 2;
    push @party_names, $name;
    $party_of{$_} = $name for split /,/, $pids;
}
my @kinds = (
    ['waking another task', qr/^(try_to_wake_up|__wake_up_common|__wake_up_sync_key|sock_def_readable|sk_stream_write_space|ep_poll_callback|ttwu_\w+|wake_up_q)$/],
    ['context switch (sleep, preemption)', qr/^(__schedule|schedule|finish_task_switch.*|schedule_hrtimeout_range_clock)$/],
    ['freeing skbs and pages', qr/^(kfree_skb\w*|skb_release_\w+|__kfree_skb|consume_skb|napi_consume_skb|sk_skb_reason_drop|__folio_put|put_page)$/],
    ['allocating skbs', qr/^(__alloc_skb|tcp_stream_alloc_skb|kmem_cache_alloc\w*|__kmalloc\w*|skb_clone)$/],
    ['copying bytes to user space', qr/^(_copy_to_iter|skb_copy_datagram_iter|__skb_datagram_iter|copy_page_to_iter|rep_movs_alternative|simple_copy_to_iter)$/],
    ['splice and pipe bookkeeping', qr/^(splice_to_socket|tcp_splice_read|skb_splice_bits|__skb_splice_bits.*|splice_file_to_pipe|do_splice|__do_splice|tcp_splice_data_recv|splice_pipe_to_pipe|pipe_\w+|spd_fill_page|__x64_sys_splice|add_to_pipe|splice_to_pipe|wait_for_space|__tcp_read_sock)$/],
    ['TCP receive side (data segments, ACKs)', qr/^(tcp_v4_rcv|tcp_rcv_established|tcp_data_queue|tcp_ack|tcp_v4_do_rcv|__release_sock|release_sock|ip_rcv\w*|ip_local_deliver\w*|ip_protocol_deliver_rcu|__netif_receive_skb\w*|process_backlog|net_rx_action|__napi_poll|tcp_event_data_recv|tcp_rcv_space_adjust|tcp_queue_rcv|tcp_clean_rtx_queue\S*|tcp_cleanup_rbuf|handle_softirqs|do_softirq\S*)$/],
    ['TCP send side (segments, ACKs)', qr/^(tcp_sendmsg\w*|tcp_write_xmit|__tcp_transmit_skb|__ip_queue_xmit|ip_queue_xmit|ip_output|ip_finish_output\w*|__dev_queue_xmit|dev_hard_start_xmit|loopback_xmit|tcp_push|__tcp_push_pending_frames|tcp_send_ack|__tcp_send_ack\S*|skb_splice_from_iter|sock_sendmsg|__sys_sendto|tcp_tsq_handler|tcp_pace_kick)$/],
    ['recv() other', qr/^(tcp_recvmsg\w*|sock_recvmsg|__sys_recvfrom|inet_recvmsg)$/],
    ['sendfile, file side', qr/^(do_sendfile|shmem_\w+|splice_direct_to_actor|do_splice_direct|filemap_\w+|splice_folio_into_pipe)$/],
    ['epoll', qr/^(ep_poll|do_epoll_wait|ep_send_events|ep_item_poll\S*|tcp_poll|__x64_sys_epoll_wait|epoll_ctl|do_epoll_ctl)$/],
    ['write() to /dev/null', qr/^(write_null|vfs_write|ksys_write)$/],
    ['timer interrupt (and the profiler itself)', qr/^(hrtimer_interrupt|__hrtimer_run_queues|__sysvec_apic_timer_interrupt|sysvec_apic_timer_interrupt|perf_swevent_hrtimer|tick_\w+|update_process_times)$/],
    ['syscall entry and exit', qr/^(do_syscall_64|entry_SYSCALL_64\w*|syscall_exit_to_user_mode\w*|exit_to_user_mode_loop|fdget\w*|__fget_light)$/],
);

my (%ns, %party_ns, $total_ns);
my ($pid, $period, @frames);
sub flush {
    return unless defined $pid;
    my $party = $party_of{$pid} // 'everything else';
    my $kind;
    if (@frames && $frames[0][1] !~ /\[kernel/) {
        $kind = 'user space';
    } else {
        for my $f (@frames) {
            for my $k (@kinds) { if ($f->[0] =~ $k->[1]) { $kind = $k->[0]; last } }
            last if $kind;
        }
        $kind //= 'other kernel (' . ($frames[0][0] // '?') . ')';
    }
    $ns{$party}{$kind} += $period;
    $party_ns{$party} += $period;
    $total_ns += $period;
    undef $pid;
    @frames = ();
}
while (<STDIN>) {
    chomp;
    if (/^\s*(\d+)\s+(\d+)\s*$/ || /^\S.*?\s(\d+)\s+(\d+)\s*$/) { flush(); ($pid, $period) = ($1, $2); next }
    if (/^\s+[0-9a-f]+\s+(\S+?)(\+0x[0-9a-f]+)?\s+\((.*)\)\s*$/) { push @frames, [$1, $3]; next }
    flush() if /^\s*$/;
}
flush();
exit 0 unless $total_ns;
my $gib = $bytes / 1073741824;
printf "  %-44s %8s %7s\n", 'party / kind of work', 's/GiB', '% all';
for my $party ((@party_names, 'everything else')) {
    next unless $party_ns{$party};
    printf "  %-44s %8.3f %6.1f%%\n", $party, $party_ns{$party} / 1e9 / $gib, 100 * $party_ns{$party} / $total_ns;
    my @sorted = sort { $ns{$party}{$b} <=> $ns{$party}{$a} } keys %{$ns{$party}};
    next if $party eq 'everything else';
    for my $kind (@sorted) {
        my $share = $ns{$party}{$kind} / $total_ns;
        next if $ns{$party}{$kind} < 0.02 * $party_ns{$party};
        printf "    %-42s %8.3f %6.1f%%\n", $kind, $ns{$party}{$kind} / 1e9 / $gib, 100 * $share;
    }
}
