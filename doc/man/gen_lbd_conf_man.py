#!/usr/bin/env python3
"""Writes lbd.conf(5) from the comments of core/proto/lbd/v1/config.proto.

The schema is the one place where every config field is documented, so the
man page is generated from it at build time and cannot drift. Usage:
  gen_lbd_conf_man.py CONFIG_PROTO VERSION OUTPUT
A comment block before a message, an enum, a field or an enum value describes
it; fields that follow one comment with none of their own share it (the
schema writes `string path = 3; uint32 max_age_s = 4;` under one comment).
Fails (exit 1) if a field has no description at all, so a field
added without a comment breaks the build rather than the manual.
"""
import re
import sys

FIELD = re.compile(r'^(optional |repeated )?([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*(\[.*\])?;$')
ENUM_VALUE = re.compile(r'^([A-Z][A-Z0-9_]*)\s*=\s*(-?\d+);$')
OPEN = re.compile(r'^(message|enum|oneof)\s+(\w+)\s*\{$')


class Scope:
    def __init__(self, kind, name, doc, parent):
        self.kind, self.name, self.doc, self.parent = kind, name, doc, parent
        self.entries = []   # [names, type, doc, oneof] groups, in order
        self.full = name if parent is None or parent.kind == 'file' else parent.full + '.' + name


def parse(text):
    root = Scope('file', '', [], None)
    scopes, stack, comment, last_group = [], [root], [], None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith('//'):
            comment.append(line[2:].strip())
            continue
        if not line:
            comment, last_group = [], None
            continue
        top = stack[-1]
        if (m := OPEN.match(line)):
            kind, name = m.groups()
            if kind == 'oneof':  # its fields belong to the message around it
                stack.append(Scope('oneof', name, comment, top))
            else:
                owner = top.parent if top.kind == 'oneof' else top
                scope = Scope(kind, name, comment, owner)
                scopes.append(scope)
                stack.append(scope)
            comment, last_group = [], None
        elif line == '}':
            stack.pop()
            comment, last_group = [], None
        elif (m := FIELD.match(line)) and top.kind in ('message', 'oneof'):
            label, ftype, name = m.group(1), m.group(2), m.group(3)
            message = top.parent if top.kind == 'oneof' else top
            if label and label.strip() == 'repeated':
                ftype = 'repeated ' + ftype
            oneof = top.name if top.kind == 'oneof' else None
            if comment or last_group is None:
                last_group = [[name], ftype, comment, oneof]
                message.entries.append(last_group)
            else:
                last_group[0].append(name)
            comment = []
        elif (m := ENUM_VALUE.match(line)) and top.kind == 'enum':
            top.entries.append([[m.group(1)], None, comment, None])
            comment, last_group = [], None
        else:
            comment, last_group = [], None  # syntax, package, reserved, option
    return scopes


def roff(text):
    text = text.replace('\\', '\\e')
    return re.sub(r"^([.'])", r'\\&\1', text, flags=re.M)


def paragraph(lines):
    """Comment lines to roff: bullet lines ("* x", "- x") start new lines."""
    out = []
    for line in lines:
        if re.match(r'^([*-]|\d+\.)\s', line) and out:
            out.append('.br')
        out.append(roff(line))
    return '\n'.join(out)


HEADER = r'''.TH LBD.CONF 5 "" "lbd {version}" "File Formats"
.SH NAME
lbd.conf \- configuration file of the lbd load balancer
.SH SYNOPSIS
.B /etc/lbd/lbd.conf
.SH DESCRIPTION
The file is protobuf text format of the message
.B lbd.v1.Config
(core/proto/lbd/v1/config.proto in lbd's sources, from whose comments this
page is generated). Check a file with
.BR "lbd \-t \-c FILE" ;
apply it to a running lbd with
.BR "lbctl reload" .
.PP
Conventions: durations are integer milliseconds in fields ending in _ms; a
scalar left out or 0 takes the default written in its description; addresses
are "host:port" or "[v6-address]:port"; enum values are written by their full
name. Each message below lists its fields; a field whose type is another
message is a block: \fBglobal { workers: 2 admin { socket_path: "/run/lbd/admin.sock" } }\fR.
.SH EXAMPLE
.nf
global { workers: 0 user: "lbd" group: "lbd"
  admin { socket_path: "/run/lbd/admin.sock" socket_group: "lbd" } }
listeners { name: "web" bind: "0.0.0.0:80" pool: "web" }
pools { name: "web" balance: "round_robin"
  servers { name: "web1" address: "10.1.0.11:80" }
  health_check { interval_ms: 2000 timeout_ms: 1000 rise: 2 fall: 3 } }
.fi
'''

FOOTER = r'''.SH FILES
.TP
.I /etc/lbd/lbd.conf
the configuration lbd reads (\fB\-c\fR to name another)
.TP
.I /usr/share/doc/lbd/examples/
annotated examples (TCP, HTTP with TLS, the demo)
.SH SEE ALSO
.BR lbd (8),
.BR lbctl (8),
.BR keepalived (8)
'''


def entry_title(scope, names, ftype, oneof):
    """A field: "name (type)", names sharing a comment together; an enum value: its name."""
    title = ', '.join('\\fB' + n + '\\fR' for n in names)
    if scope.kind == 'enum':
        return title
    return title + ' (' + ftype + (', one of ' + oneof if oneof else '') + ')'


def render(scopes, version):
    """The page, and the fields no comment describes (enum values may go without)."""
    out = [HEADER.replace('{version}', version)]
    missing = []
    for kind, heading in (('message', 'MESSAGES'), ('enum', 'ENUMERATIONS')):
        out.append('.SH ' + heading)
        for scope in (s for s in scopes if s.kind == kind):
            out.append('.SS ' + scope.full)
            if scope.doc:
                out.append(paragraph(scope.doc))
            for names, ftype, doc, oneof in scope.entries:
                out.append('.TP\n' + entry_title(scope, names, ftype, oneof))
                if doc:
                    out.append(paragraph(doc))
                elif kind == 'message':
                    missing.append(scope.full + '.' + names[0])
    out.append(FOOTER)
    return '\n'.join(out) + '\n', missing


def main():
    if len(sys.argv) != 4:
        sys.exit('usage: gen_lbd_conf_man.py CONFIG_PROTO VERSION OUTPUT')
    with open(sys.argv[1], encoding='utf-8') as f:
        page, missing = render(parse(f.read()), sys.argv[2])
    if missing:
        sys.exit('gen_lbd_conf_man: no comment describes: ' + ', '.join(missing))
    with open(sys.argv[3], 'w', encoding='utf-8') as f:
        f.write(page)


if __name__ == '__main__':
    main()
