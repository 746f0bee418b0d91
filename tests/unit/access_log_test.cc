// The access-log line's optional fields (l7/access_log.h): written only when set.
#include <doctest/doctest.h>

#include "l7/access_log.h"
#include "l7/cache_state.h"

namespace lbd::l7 {
namespace {

AccessRecord record() {
    AccessRecord r;
    r.listener = "front";
    r.client = "127.0.0.1:40000";
    r.method = "GET";
    r.path = "/a";
    r.status = 200;
    r.server = "-";
    r.route = "-";
    r.term = "ok";
    return r;
}

TEST_CASE("the cache status is written as cache= (text) and \"cache\" (JSON) only on a caching route") {
    AccessRecord r = record();
    CHECK(format_access_text(r).find(" cache=") == std::string::npos);
    CHECK(format_access_json(r).find("\"cache\"") == std::string::npos);
    r.cache = to_string(CacheStatus::kRevalidated);
    CHECK(format_access_text(r).find(" term=ok cache=REVALIDATED") != std::string::npos);
    CHECK(format_access_json(r).find(",\"cache\":\"REVALIDATED\"}") != std::string::npos);
}

}  // namespace
}  // namespace lbd::l7
