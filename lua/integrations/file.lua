-- file.lua - FILE: events appended to a local file as JSON lines, rotated
-- by size (path.1 is the newest rotated file, path.<keep_files> the oldest).
-- Not a Sysdig type: siemrelay's own, for archives and for debugging.
local event = require "event"

local M = {}

M.type = "FILE"
M.transport = "file"
M.framing = "ndjson"

M.options = {
    path = { required = true, type = "string", description = "file events are appended to" },
    rotate_bytes = { type = "integer", default = 104857600,
        description = "rotate when the file would grow past this many bytes; 0 = never" },
    maxBytes = { alias_of = "rotate_bytes" },
    keep_files = { type = "integer", default = 5,
        description = "rotated files kept (path.1 .. path.N)" },
}

M.batch = { max_events = 1000, max_bytes = 4194304, linger_ms = 200 }

function M.setup(conf)
    if conf.path == "" then
        error("'path' must not be empty", 0)
    end
    if conf.rotate_bytes < 0 then
        error("'rotate_bytes' must be 0 (never) or a positive number of bytes", 0)
    end
    if conf.keep_files < 0 then
        error("'keep_files' must not be negative", 0)
    end
    return { path = conf.path, rotate_bytes = conf.rotate_bytes, keep_files = conf.keep_files }
end

-- The record is the event as it stands (written by C: see docs/lua-contract.md).
M.envelope = event.as_is

M.encode = event.enveloped(M.envelope)

return M
