// The HTTP/1 grammar of core/http1 (char classes, head parser, body decoder) under the names l7
// has always used: the parser lived in l7/ until the health probe and the config checks needed it
// too, and l7 code (and its tests) call it unqualified from lbd::l7. Explicit declarations rather
// than a using-directive, so that a name l7 defines itself can never silently shadow one of these.
#pragma once

#include "core/http1/body.h"
#include "core/http1/chars.h"
#include "core/http1/parser.h"
#include "core/http1/types.h"

namespace lbd::l7 {

// types.h
using http1::BodyFraming;
using http1::http_status;
using http1::HttpError;
using http1::HttpLimits;
using http1::HttpMethod;
using http1::HttpVersion;
using http1::kMaxBodyLength;
using http1::kMaxChunkLineBytes;
using http1::kMaxMethodLength;
using http1::TargetForm;
using http1::to_string;

// chars.h
using http1::hex_value;
using http1::iequals;
using http1::istarts_with;
using http1::is_alpha;
using http1::is_digit;
using http1::is_field_vchar;
using http1::is_hex_digit;
using http1::is_ows;
using http1::is_qdtext;
using http1::is_reg_name_char;
using http1::is_target_char;
using http1::lower_ascii;
using http1::is_tchar;
using http1::to_lower_ascii;
using http1::trim_ows;

// parser.h
using http1::connection_lists;
using http1::HeadParseResult;
using http1::HeadScanState;
using http1::HeadStatus;
using http1::HttpHead;
using http1::HttpHeader;
using http1::HttpRequestHead;
using http1::HttpResponseHead;
using http1::is_hop_by_hop;
using http1::next_list_element;
using http1::parse_request_head;
using http1::parse_response_head;

// body.h
using http1::BodyDecoder;
using http1::BodyResult;
using http1::BodyStatus;

}  // namespace lbd::l7
