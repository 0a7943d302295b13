-- betlab/prelude.lua - the Lua half of the betlab module (betlab-lua(7)).
-- Loaded by the C module with the module table; adds terminal plots,
-- a CSV writer, rank statistics and small helpers for sessions.
return function(bl)
  local M = bl._methods

  local function check(cond, fn, msg, level)
    if not cond then error(fn .. ": " .. msg, (level or 2) + 1) end
  end

  local function numlist(t, fn, what)
    check(type(t) == "table", fn, what .. " must be a list of numbers, got " .. type(t), 3)
    for i = 1, #t do
      check(type(t[i]) == "number", fn, what .. " must be a list of numbers (item " .. i
            .. " is " .. type(t[i]) .. ")", 3)
    end
  end

  ---------------------------------------------------------------- plots
  bl.plot = {}

  -- bl.plot.lines{series={{x=,y=,label=,mark=}...}, width=, height=,
  --               title=, xlabel=, ylabel=, logx=, ymin=, ymax=} -> string
  function bl.plot.lines(o)
    local fn = "bl.plot.lines"
    check(type(o) == "table", fn, "argument must be a table {series=...}")
    local series = o.series
    check(type(series) == "table" and #series > 0, fn, "field 'series' must be a non-empty list")
    local W = math.tointeger(o.width or 60)
    local H = math.tointeger(o.height or 15)
    check(W and W >= 10 and W <= 400, fn, "field 'width' must be an integer in 10..400")
    check(H and H >= 3 and H <= 200, fn, "field 'height' must be an integer in 3..200")
    local marks = { "*", "o", "+", "x", "#", "@", "%", "&" }
    local xmin, xmax, ymin, ymax = math.huge, -math.huge, math.huge, -math.huge
    local function tx(x)
      if o.logx then
        return x > 0 and math.log(x, 10) or nil
      end
      return x
    end
    for i, s in ipairs(series) do
      check(type(s) == "table", fn, "series " .. i .. " must be a table {x=, y=}")
      numlist(s.x, fn, "field 'x' of series " .. i)
      numlist(s.y, fn, "field 'y' of series " .. i)
      check(#s.x == #s.y, fn, "series " .. i .. ": x and y differ in length")
      for k = 1, #s.x do
        local x = tx(s.x[k])
        if x then
          xmin, xmax = math.min(xmin, x), math.max(xmax, x)
          ymin, ymax = math.min(ymin, s.y[k]), math.max(ymax, s.y[k])
        end
      end
    end
    if xmin == math.huge then return "(nothing to plot)\n" end
    ymin, ymax = o.ymin or ymin, o.ymax or ymax
    if xmax == xmin then xmax = xmin + 1 end
    if ymax == ymin then ymax = ymin + 1 end
    local grid = {}
    for r = 1, H do
      grid[r] = {}
      for c = 1, W do grid[r][c] = " " end
    end
    for i, s in ipairs(series) do
      local mk = s.mark or marks[(i - 1) % #marks + 1]
      for k = 1, #s.x do
        local x = tx(s.x[k])
        if x then
          local c = math.floor((x - xmin) / (xmax - xmin) * (W - 1) + 0.5) + 1
          local r = H - math.floor((s.y[k] - ymin) / (ymax - ymin) * (H - 1) + 0.5)
          if r >= 1 and r <= H then grid[r][c] = mk end
        end
      end
    end
    local out = {}
    if o.title then out[#out + 1] = o.title end
    local ylab = function(v) return string.format("%8.4g", v) end
    for r = 1, H do
      local label = "        "
      if r == 1 then label = ylab(ymax)
      elseif r == H then label = ylab(ymin)
      elseif r == (H + 1) // 2 then label = ylab((ymax + ymin) / 2) end
      out[#out + 1] = label .. " |" .. table.concat(grid[r])
    end
    out[#out + 1] = string.rep(" ", 9) .. "+" .. string.rep("-", W)
    local lo = o.logx and 10 ^ xmin or xmin
    local hi = o.logx and 10 ^ xmax or xmax
    local l, rgt = string.format("%.4g", lo), string.format("%.4g", hi)
    out[#out + 1] = string.rep(" ", 10) .. l .. string.rep(" ", math.max(1, W - #l - #rgt)) .. rgt
    if o.xlabel or o.ylabel then
      out[#out + 1] = string.rep(" ", 10) .. (o.xlabel and ("x: " .. o.xlabel) or "")
        .. (o.ylabel and ("   y: " .. o.ylabel) or "")
    end
    local legend = {}
    for i, s in ipairs(series) do
      if s.label then
        legend[#legend + 1] = (s.mark or marks[(i - 1) % #marks + 1]) .. " " .. s.label
      end
    end
    if #legend > 0 then out[#out + 1] = string.rep(" ", 10) .. table.concat(legend, "   ") end
    return table.concat(out, "\n") .. "\n"
  end

  -- bl.plot.curve(xs, ys [, opts]) -> string: one series
  function bl.plot.curve(xs, ys, o)
    numlist(xs, "bl.plot.curve", "argument #1 (xs)")
    numlist(ys, "bl.plot.curve", "argument #2 (ys)")
    check(#xs == #ys, "bl.plot.curve", "xs and ys differ in length")
    check(o == nil or type(o) == "table", "bl.plot.curve",
          "bad argument #3 (table expected, got " .. type(o) .. ")")
    local opts = {}
    for k, v in pairs(o or {}) do opts[k] = v end
    opts.series = { { x = xs, y = ys, label = opts.label } }
    return bl.plot.lines(opts)
  end

  -- bl.plot.bars(labels, values [, {width=}]) -> string: horizontal bars
  function bl.plot.bars(labels, values, o)
    local fn = "bl.plot.bars"
    check(type(labels) == "table", fn, "bad argument #1 (table expected, got " .. type(labels) .. ")")
    numlist(values, fn, "argument #2 (values)")
    check(#labels == #values, fn, "labels and values differ in length")
    check(o == nil or type(o) == "table", fn, "bad argument #3 (table expected, got " .. type(o) .. ")")
    -- bounded like bl.plot.lines: a width of 1e9 would build gigabyte strings
    local W = math.tointeger((o and o.width) or 50)
    check(W and W >= 1 and W <= 400, fn, "field 'width' must be an integer in 1..400")
    for i = 1, #values do
      check(values[i] == values[i] and math.abs(values[i]) ~= math.huge, fn,
            "value " .. i .. " must be a finite number")
    end
    local vmax, lw = 0, 1
    for i = 1, #values do
      vmax = math.max(vmax, values[i])
      lw = math.max(lw, #tostring(labels[i]))
    end
    local out = {}
    for i = 1, #values do
      local n = vmax > 0 and math.floor(values[i] / vmax * W + 0.5) or 0
      out[#out + 1] = string.format("%" .. lw .. "s |%s %.4g", tostring(labels[i]),
                                    string.rep("#", n), values[i])
    end
    return table.concat(out, "\n") .. "\n"
  end

  -- sw:plot([opts]): accuracy over BER with the 95% interval bounds
  function M.sweep.plot(sw, o)
    local rows = sw:rows()
    local x, y, lo, hi = {}, {}, {}, {}
    for i, r in ipairs(rows) do
      x[i], y[i], lo[i], hi[i] = r.ber, r.accuracy, r.ci_low, r.ci_high
    end
    local opts = { title = "accuracy over BER (" .. sw:info().fault .. ")", xlabel = "BER",
                   ylabel = "accuracy" }
    for k, v in pairs(o or {}) do opts[k] = v end
    opts.series = { { x = x, y = lo, label = "95% CI", mark = "." },
                    { x = x, y = hi, mark = "." },
                    { x = x, y = y, label = "accuracy", mark = "*" } }
    return bl.plot.lines(opts)
  end

  -- h:plot([opts]): the margin histogram as bars
  function M.histogram.plot(h, o)
    local labels, values = {}, {}
    local bins = h:bins()
    local maxbars = math.tointeger((o and o.bars) or 16)
    check(maxbars and maxbars >= 1 and maxbars <= 400, "plot",
          "field 'bars' must be an integer in 1..400")
    local group = math.max(1, math.ceil(#bins / maxbars))
    for i = 1, #bins, group do
      local c = 0
      for k = i, math.min(#bins, i + group - 1) do c = c + bins[k].count end
      labels[#labels + 1] = string.format("%d-%d", bins[i].lo, bins[math.min(#bins, i + group - 1)].hi - 1)
      values[#values + 1] = c
    end
    return "margins of " .. h:layer() .. "\n" .. bl.plot.bars(labels, values, o)
  end

  ---------------------------------------------------------------- CSV
  bl.csv = {}

  local function csv_field(v)
    local s
    if math.type(v) == "float" then s = string.format("%.17g", v)
    else s = tostring(v) end
    if s:find('[,"\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
    return s
  end

  -- bl.csv.write(path, columns, rows): rows are lists or tables keyed by
  -- column name; RFC 4180, header row; saved like every betlab file
  -- (atomically; devices and symbolic links are written through).
  function bl.csv.write(path, columns, rows)
    local fn = "bl.csv.write"
    check(type(path) == "string", fn, "bad argument #1 (string expected, got " .. type(path) .. ")")
    check(type(columns) == "table" and #columns > 0, fn,
          "bad argument #2 (non-empty list of column names expected)")
    check(type(rows) == "table", fn, "bad argument #3 (table expected, got " .. type(rows) .. ")")
    local lines = {}
    local head = {}
    for i, c in ipairs(columns) do head[i] = csv_field(c) end
    lines[1] = table.concat(head, ",")
    for r, row in ipairs(rows) do
      check(type(row) == "table", fn, "row " .. r .. " must be a table")
      -- a value with no column would be dropped silently: ragged rows and
      -- unknown keys are errors
      check(#row == 0 or #row == #columns, fn, "row " .. r .. " has " .. #row ..
            " values for " .. #columns .. " columns")
      for k in pairs(row) do
        local known = math.type(k) == "integer" and k >= 1 and k <= #row
        if not known then
          for _, c in ipairs(columns) do if c == k then known = true; break end end
        end
        check(known, fn, "row " .. r .. ": key " .. string.format("%q", tostring(k)) ..
              " is not a column")
      end
      local f = {}
      for i, c in ipairs(columns) do
        local v = row[c]
        if v == nil then v = row[i] end
        f[i] = v == nil and "" or csv_field(v)
      end
      lines[#lines + 1] = table.concat(f, ",")
    end
    -- betlab's save rules: atomic for a regular file, written through a
    -- device or a symbolic link, "-" for stdout
    local ok, err = pcall(bl._write_file, path, table.concat(lines, "\r\n") .. "\r\n")
    if not ok then error(fn .. ": " .. err, 2) end
    return path
  end

  ---------------------------------------------------------------- stats
  bl.stats = {}

  local function ranks(v)
    local idx = {}
    for i = 1, #v do idx[i] = i end
    table.sort(idx, function(a, b) return v[a] < v[b] end)
    local r = {}
    local i = 1
    while i <= #idx do
      local j = i
      while j < #idx and v[idx[j + 1]] == v[idx[i]] do j = j + 1 end
      local avg = (i + j) / 2          -- ties get the mean rank
      for k = i, j do r[idx[k]] = avg end
      i = j + 1
    end
    return r
  end

  local function pearson(x, y)
    local n = #x
    local mx, my = 0, 0
    for i = 1, n do mx, my = mx + x[i], my + y[i] end
    mx, my = mx / n, my / n
    local sxy, sxx, syy = 0, 0, 0
    for i = 1, n do
      sxy = sxy + (x[i] - mx) * (y[i] - my)
      sxx = sxx + (x[i] - mx) ^ 2
      syy = syy + (y[i] - my) ^ 2
    end
    if sxx == 0 or syy == 0 then return 0 / 0 end
    return sxy / math.sqrt(sxx * syy)
  end

  -- bl.stats.pearson(xs, ys), bl.stats.spearman(xs, ys) -> correlation
  -- (NaN when either list is constant)
  function bl.stats.pearson(x, y)
    numlist(x, "bl.stats.pearson", "argument #1")
    numlist(y, "bl.stats.pearson", "argument #2")
    check(#x == #y and #x >= 2, "bl.stats.pearson", "lists must have the same length >= 2")
    return pearson(x, y)
  end
  function bl.stats.spearman(x, y)
    numlist(x, "bl.stats.spearman", "argument #1")
    numlist(y, "bl.stats.spearman", "argument #2")
    check(#x == #y and #x >= 2, "bl.stats.spearman", "lists must have the same length >= 2")
    return pearson(ranks(x), ranks(y))
  end

  ---------------------------------------------------------------- sessions
  bl.session = {}

  -- bl.session.quick(): reduced mode (script argument --quick or
  -- BETLAB_QUICK=1)
  function bl.session.quick()
    if os.getenv("BETLAB_QUICK") == "1" then return true end
    for _, a in ipairs(arg or {}) do if a == "--quick" then return true end end
    return false
  end

  -- bl.session.models(names [, quick]) -> list of {name=, model=}.  Full
  -- mode: every shipped model must exist (else an error naming the first
  -- missing one and `make models`).  Quick mode: shipped models when
  -- present, small seeded random models standing in for missing ones.
  function bl.session.models(names, quick)
    local out = {}
    for i, name in ipairs(names) do
      local ok, m = pcall(bl.model.load, name)
      if not ok then
        if not quick then
          error("shipped model '" .. name .. "' is missing (models/" .. name
                .. ".bnn): build the shipped models with `make models`, or run with --quick", 2)
        end
        m = bl.model.random("784-128-128-10", i)
        m:set_meta("name", name .. " (random stand-in)")
      end
      out[#out + 1] = { name = name, model = m }
    end
    return out
  end

  -- bl.session.data(quick [, n]) -> test dataset: fashion-mnist:test, or
  -- random data in quick mode when it is not installed; n first images.
  function bl.session.data(quick, n)
    local ok, ds = pcall(bl.data.load, "fashion-mnist:test")
    if not ok then
      if not quick then error(ds, 2) end
      ds = bl.data.random(n or 200, { seed = 1 })
    end
    if n and n < #ds then ds = ds:subset(1, n) end
    return ds
  end
end
