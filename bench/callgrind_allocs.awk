# bench/callgrind_allocs.awk - instructions and allocations per request from a callgrind output
# file (bench/http1_cost.sh, bench/h2_cost.sh): awk -v n=REQUESTS -f callgrind_allocs.awk FILE
# prints "INSTRUCTIONS ALLOCATIONS", both per request.
#
# An allocation is a call into the malloc library in use (glibc's libc or lbd's libmimalloc,
# cli/allocator.h) to one of its allocating functions, from code outside that library: counted
# where lbd, libstdc++'s operator new or a library asks, whichever malloc serves it (mimalloc's
# operator new is its own, glibc's is libstdc++'s calling malloc), and once (not again for
# mimalloc's malloc calling mi_malloc inside the library).

# "ob=(3) /path" names id 3 the first time; later "ob=(3)" alone refers to it.
function named(line, table,    id, rest) {
    sub(/^[a-z]+=/, "", line)
    id = line
    sub(/\).*/, ")", id)
    rest = substr(line, length(id) + 2)
    if (rest != "") table[id] = rest
    return table[id]
}
/^ob=/ { caller_ob = named($0, objects); callee_ob = ""; next }
/^cob=/ { callee_ob = named($0, objects); next }
/^fn=/ { named($0, functions); next }
/^cfn=/ { callee = named($0, functions); next }
/^calls=/ {
    split($1, c, "=")
    ob = callee_ob != "" ? callee_ob : caller_ob
    if (ob ~ /\/lib(c|mimalloc)\.so/ && ob != caller_ob &&
        (callee ~ /^(mi_)?(malloc|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|zalloc|new[a-z_]*)$/ ||
         callee ~ /^operator new/))
        allocs += c[2]
    callee_ob = ""
    next
}
/^totals:/ { ir = $2 }
END { printf "%.0f %.2f\n", ir / n, allocs / n }
