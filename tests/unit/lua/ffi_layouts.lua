-- ffi_layouts.lua - what the Lua side believes C structs look like. Run by
-- tests/unit/test_ffi_layouts.c, which compares the answer with the C
-- definitions.
--
-- Arguments: the source directory, and optionally `edit` = { file, from, to }:
-- before that file's cdef text reaches ffi.cdef, the plain text `from` is
-- replaced by `to` (how the test proves a mismatch is caught).
--
-- Every module under lua/lib and lua/integrations is loaded with ffi.cdef
-- wrapped, so every struct any of them declares is found in the text they
-- really declare, without a list to keep up to date. Returns an array of
-- { name, file, size, fields = { { name, offset, size }, ... } } in
-- declaration order.
local src, edit = ...
local ffi = require "ffi"

local find, format, gsub, match, sub = string.find, string.format, string.gsub, string.match, string.sub

local declared = {} -- { text, file } per ffi.cdef call, in order

local real_cdef = ffi.cdef
ffi.cdef = function(text)
    -- the calling file, relative to the source directory
    local source = debug.getinfo(2, "S").source
    local current = sub(source, 1, #src + 2) == "@" .. src .. "/" and sub(source, #src + 3) or source
    if edit and current == edit.file then
        local at = find(text, edit.from, 1, true)
        if at then
            text = sub(text, 1, at - 1) .. edit.to .. sub(text, at + #edit.from)
        end
    end
    declared[#declared + 1] = { text = text, file = current }
    return real_cdef(text)
end

local function modules(dir)
    local names = {}
    local p = assert(io.popen("ls '" .. src .. "/lua/" .. dir .. "'"))
    for name in p:lines() do
        if match(name, "%.lua$") then
            names[#names + 1] = name
        end
    end
    p:close()
    return names
end

-- lib/ through require (its modules require each other, and each must load
-- once: a type can be declared once per state); integrations as the host
-- runs them, in an environment of their own.
for _, name in ipairs(modules("lib")) do
    require(sub(name, 1, -5))
end
for _, name in ipairs(modules("integrations")) do
    local chunk = assert(loadfile(src .. "/lua/integrations/" .. name))
    setfenv(chunk, setmetatable({}, { __index = _G }))
    chunk()
end
ffi.cdef = real_cdef

local function trim(s)
    return match(s, "^%s*(.-)%s*$")
end

-- One member declaration ("uint32_t nedits, edits_cap") into { name, type }
-- pairs, the type being what ffi.sizeof takes ("uint32_t", "char[120]",
-- "struct sr_arena *").
local function declarators(decl, struct)
    local out = {}
    local first = true
    local base
    for part in string.gmatch(decl, "[^,]+") do
        local prefix, name, dims = match(part, "^(.-)([%a_][%w_]*)%s*([%[%]%d%s]*)$")
        local stars
        if prefix then
            if first then
                base, stars = match(prefix, "^%s*(.-)%s*(%**)%s*$")
                first = false
            else
                stars = match(prefix, "^%s*(%**)%s*$")
            end
        end
        if not stars or base == "" then
            error(format("cannot read the declaration '%s' in struct %s", decl, struct))
        end
        local ty = base .. (stars ~= "" and " " .. stars or "") .. gsub(dims, "%s", "")
        out[#out + 1] = { name = name, type = ty }
    end
    return out
end

local structs = {}
for _, d in ipairs(declared) do
    local text = gsub(gsub(d.text, "/%*.-%*/", " "), "//[^\n]*", " ")
    for tag, body, alias in string.gmatch(text, "struct%s*([%w_]*)%s*(%b{})%s*([%w_]*)") do
        local name = tag ~= "" and tag or alias
        local ctype = tag ~= "" and "struct " .. tag or alias
        local s = { name = name, file = d.file, size = ffi.sizeof(ctype), fields = {} }
        body = sub(body, 2, -2)
        if find(body, "[{}]") then
            error(format("struct %s (%s): nested struct or union bodies are not supported here",
                name, d.file))
        end
        for decl in string.gmatch(body, "[^;]+") do
            decl = trim(decl)
            if decl ~= "" then
                for _, f in ipairs(declarators(decl, name)) do
                    s.fields[#s.fields + 1] = {
                        name = f.name,
                        offset = ffi.offsetof(ctype, f.name),
                        size = ffi.sizeof(f.type),
                    }
                end
            end
        end
        structs[#structs + 1] = s
    end
end
return structs
