// lbd.conf(5) is generated from config.proto's comments (doc/man/gen_lbd_conf_man.py, which
// reads the .proto as text). This test walks the schema as protoc compiled it (the C++
// descriptors) and checks that the page has a section for every message and enum of the file
// and an entry for every field and enum value in it: a field the generator's parser missed (a
// syntax it does not know) fails here, not in an operator's terminal.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "lbd/v1/config.pb.h"

#ifndef LBD_CONF_MAN_PAGE
#error "LBD_CONF_MAN_PAGE must name the generated lbd.conf.5 (the build defines it)"
#endif

namespace {

namespace gpb = google::protobuf;

std::string read_page() {
    std::ifstream in(LBD_CONF_MAN_PAGE);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The text of the page's ".SS NAME" section, up to the next section ("" if absent).
std::string section(const std::string& page, const std::string& name) {
    const std::string heading = ".SS " + name + "\n";
    const size_t start = page.find(heading);
    if (start == std::string::npos) return "";
    const size_t end = page.find("\n.S", start + heading.size());
    return page.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// "lbd.v1.CookieStickiness.Mode" -> "CookieStickiness.Mode", as the page names it.
std::string page_name(const std::string& full_name) { return full_name.substr(std::string("lbd.v1.").size()); }

// Every value of `e` has its bold entry in the enum's section.
void check_enum(const std::string& page, const gpb::EnumDescriptor& e) {
    const std::string text = section(page, page_name(e.full_name()));
    CHECK_MESSAGE(!text.empty(), "no section for enum " << e.full_name());
    for (int v = 0; v < e.value_count(); ++v)
        CHECK_MESSAGE(text.find("\\fB" + e.value(v)->name() + "\\fR") != std::string::npos,
                      "no entry for " << e.value(v)->full_name());
}

// Every field of `message` (and of its nested messages and enums) has its bold entry.
void check_message(const std::string& page, const gpb::Descriptor& message, int* fields) {
    const std::string text = section(page, page_name(message.full_name()));
    CHECK_MESSAGE(!text.empty(), "no section for message " << message.full_name());
    for (int i = 0; i < message.field_count(); ++i) {
        const std::string entry = "\\fB" + message.field(i)->name() + "\\fR";
        CHECK_MESSAGE(text.find(entry) != std::string::npos, "no entry for " << message.field(i)->full_name());
        ++*fields;
    }
    for (int i = 0; i < message.nested_type_count(); ++i) check_message(page, *message.nested_type(i), fields);
    for (int i = 0; i < message.enum_type_count(); ++i) check_enum(page, *message.enum_type(i));
}

}  // namespace

TEST_CASE("lbd.conf(5) documents every message, field and enum value of config.proto") {
    const std::string page = read_page();
    REQUIRE_MESSAGE(!page.empty(), "cannot read " LBD_CONF_MAN_PAGE);
    CHECK(page.rfind(".TH LBD.CONF 5", 0) == 0);
    const gpb::FileDescriptor& file = *lbd::v1::Config::descriptor()->file();
    int fields = 0;
    for (int i = 0; i < file.message_type_count(); ++i) check_message(page, *file.message_type(i), &fields);
    for (int i = 0; i < file.enum_type_count(); ++i) check_enum(page, *file.enum_type(i));
    // The schema has about 140 fields: a near-empty walk would mean the descriptors were not found.
    CHECK(fields > 120);
    // The fields this change added (global.user / group) are there with their comment.
    CHECK(section(page, "Global").find("CAP_NET_BIND_SERVICE") != std::string::npos);
}
