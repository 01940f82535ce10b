-- dropgen's inventory on Redis or Valkey: every change of one drop's state, decided and
-- written atomically on the server. It is `machine.rs` in Lua, and the store tests hold it to
-- that machine, step by step, as its oracle; change the two together.
--
-- KEYS[1]  the drop's key prefix, `<prefix>{d:<slug>}`. Every key below starts with it, so a
--          drop lives in one Redis Cluster slot.
-- ARGV[1]  the operation: hold, confirm, release, control, stock, sync, expire (changes);
--          snapshot, read (reads)
-- ARGV[2]  now, in Unix milliseconds (the service's clock: scripts stay deterministic)
-- ARGV[3]  the drop's slug
-- ARGV[4…] the operation's own arguments, below.
--
-- Returns { reply, event… }: the reply as JSON, then each event the call appended to the
-- drop's log stream, as JSON (the same JSON as the embedded event log's).
--
-- A script is not rolled back when a command fails half-way, so every check comes before the
-- first write, and the writes cannot fail on a server that does not evict (noeviction).

local B = KEYS[1]
local op, now, slug = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local META = B .. ':meta'      -- starts, ends (ms, '' for none), control, holds_made
local STOCK = B .. ':stock'    -- SKU -> total units; its fields are the drop's SKUs
local HELD = B .. ':held'      -- SKU -> units held
local SOLD = B .. ':sold'      -- SKU -> units sold
local LIMIT = B .. ':limit'    -- SKU -> per-customer limit, when it has one
local URL = B .. ':checkout'   -- SKU -> checkout URL
local KEYS_USED = B .. ':keys' -- Idempotency-Key -> the hold it made
local TAKEN = B .. ':taken'    -- SKU NUL customer -> units held or sold
local EXPIRIES = B .. ':expiries' -- hold id scored by its expiry
local LOG = B .. ':log'        -- the drop's event log: a stream of { event = JSON }

local function hold_key(id)
  return B .. ':hold:' .. id
end

local function num(value)
  return tonumber(value) or 0
end

-- RFC 3339 in UTC from Unix milliseconds (days to a civil date: Howard Hinnant's algorithm).
local function iso(ms)
  local seconds = math.floor(ms / 1000)
  local millis = ms - seconds * 1000
  local days = math.floor(seconds / 86400)
  local of_day = seconds - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400
  if month <= 2 then
    year = year + 1
  end
  local text = string.format('%04d-%02d-%02dT%02d:%02d:%02d', year, month, day,
    math.floor(of_day / 3600), math.floor(of_day / 60) % 60, of_day % 60)
  if millis > 0 then
    text = text .. string.format('.%03d', millis)
  end
  return text .. 'Z'
end

local events = {}

local function append(json)
  redis.call('XADD', LOG, '*', 'event', json)
  events[#events + 1] = json
end

local function emit(event)
  append(cjson.encode(event))
end

local function answer(reply)
  local out = { cjson.encode(reply) }
  for _, json in ipairs(events) do
    out[#out + 1] = json
  end
  return out
end

local function refuse(code)
  return answer({ refused = code })
end

local function read_hold(id)
  local r = redis.call('HMGET', hold_key(id), 'sku', 'quantity', 'customer', 'key', 'state', 'created',
    'expires', 'confirmed_by')
  if not r[5] then
    return nil
  end
  return { id = id, sku = r[1], quantity = tonumber(r[2]), customer = r[3], key = r[4], state = r[5],
    created = tonumber(r[6]), expires = tonumber(r[7]), confirmed_by = r[8] }
end

local function view(hold)
  return { hold_id = hold.id, drop = slug, sku = hold.sku, quantity = hold.quantity,
    customer = hold.customer, state = hold.state, created = hold.created, expires = hold.expires }
end

-- The drop's status at `now`: the operator's control over its times, the end over a pause.
local function status()
  local meta = redis.call('HMGET', META, 'starts', 'ends', 'control')
  local starts, ends, control = tonumber(meta[1]), tonumber(meta[2]), meta[3] or 'scheduled'
  if control == 'ended' or (ends and now >= ends) then
    return 'ended'
  elseif control == 'paused' then
    return 'paused'
  elseif control == 'open' then
    return 'live'
  elseif control == 'delayed' or not starts or now < starts then
    return 'upcoming'
  end
  return 'live'
end

local function exists()
  return redis.call('HEXISTS', META, 'starts') == 1
end

-- An active hold ends: its units leave `held` for `sold`, or go back to stock and to the
-- customer's allowance.
local function finish(hold, to)
  if hold.state ~= 'active' then
    return
  end
  redis.call('HSET', hold_key(hold.id), 'state', to)
  hold.state = to
  redis.call('ZREM', EXPIRIES, hold.id)
  if redis.call('HEXISTS', STOCK, hold.sku) == 1 then
    redis.call('HSET', HELD, hold.sku, math.max(0, num(redis.call('HGET', HELD, hold.sku)) - hold.quantity))
    if to == 'confirmed' then
      redis.call('HINCRBY', SOLD, hold.sku, hold.quantity)
    end
  end
  if to ~= 'confirmed' then
    local field = hold.sku .. '\0' .. hold.customer
    local left = num(redis.call('HGET', TAKEN, field)) - hold.quantity
    if left > 0 then
      redis.call('HSET', TAKEN, field, left)
    else
      redis.call('HDEL', TAKEN, field)
    end
  end
end

-- The holds due by `now`, oldest first (score, then id: the machine's order).
local function expire_due()
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', EXPIRIES, '-inf', now)) do
    local hold = read_hold(id)
    if hold then
      finish(hold, 'expired')
      emit({ event = 'hold_expired', at = iso(hold.expires), drop = slug, hold = id })
    end
  end
end

local function counts(sku)
  return { stock = num(redis.call('HGET', STOCK, sku)), held = num(redis.call('HGET', HELD, sku)),
    sold = num(redis.call('HGET', SOLD, sku)) }
end

-- ARGV: sku, quantity, customer, Idempotency-Key, hold TTL (ms), whether now + TTL is a time
-- ('1'). The request itself was validated by the service, as the machine validates it first.
local function hold()
  local sku, quantity, customer, key = ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
  local ttl, fits = tonumber(ARGV[8]), ARGV[9]
  if not exists() then
    return refuse('unknown_drop')
  end
  local used = redis.call('HGET', KEYS_USED, key)
  if used then
    local earlier = read_hold(used)
    if not earlier then
      return refuse('unknown_hold')
    elseif earlier.sku == sku and earlier.quantity == quantity then
      return answer({ held = view(earlier), replayed = true })
    end
    return refuse('idempotency_conflict')
  end
  if redis.call('HEXISTS', STOCK, sku) == 0 then
    return refuse('unknown_sku')
  end
  if status() ~= 'live' then
    return refuse('not_live')
  end
  local field = sku .. '\0' .. customer
  local limit = tonumber(redis.call('HGET', LIMIT, sku))
  if limit and num(redis.call('HGET', TAKEN, field)) + quantity > limit then
    return refuse('limit_reached')
  end
  local c = counts(sku)
  if math.max(0, c.stock - c.held - c.sold) < quantity then
    return refuse('sold_out')
  end
  if fits ~= '1' then
    return refuse('invalid_request')
  end
  local id = 'h_' .. slug .. '_' .. redis.call('HINCRBY', META, 'holds_made', 1)
  local made = { id = id, sku = sku, quantity = quantity, customer = customer, key = key, state = 'active',
    created = now, expires = now + ttl }
  redis.call('HSET', hold_key(id), 'sku', sku, 'quantity', quantity, 'customer', customer, 'key', key,
    'state', 'active', 'created', now, 'expires', made.expires)
  redis.call('ZADD', EXPIRIES, made.expires, id)
  redis.call('HSET', KEYS_USED, key, id)
  redis.call('HINCRBY', HELD, sku, quantity)
  redis.call('HINCRBY', TAKEN, field, quantity)
  emit({ event = 'hold_created', at = iso(now), drop = slug, hold = id, sku = sku, quantity = quantity,
    customer = customer, key = key, expires_at = iso(made.expires) })
  return answer({ held = view(made), replayed = false })
end

-- ARGV: hold id, the confirm's Idempotency-Key (the token was checked by the service).
local function confirm()
  local id, key = ARGV[4], ARGV[5]
  local h = read_hold(id)
  if not h then
    return refuse('unknown_hold')
  elseif h.state == 'active' and h.expires <= now then
    return refuse('hold_expired')
  elseif h.state == 'active' then
    finish(h, 'confirmed')
    redis.call('HSET', hold_key(id), 'confirmed_by', key)
    emit({ event = 'hold_confirmed', at = iso(now), drop = slug, hold = id, key = key })
    return answer({ hold = view(h) })
  elseif h.state == 'confirmed' and h.confirmed_by == key then
    return answer({ hold = view(h) })
  end
  return refuse('hold_' .. h.state)
end

-- ARGV: hold id.
local function release()
  local id = ARGV[4]
  local h = read_hold(id)
  if not h then
    return refuse('unknown_hold')
  elseif h.state == 'active' and h.expires <= now then
    return refuse('hold_expired')
  elseif h.state == 'active' then
    finish(h, 'released')
    emit({ event = 'hold_released', at = iso(now), drop = slug, hold = id })
  elseif h.state ~= 'released' then
    return refuse('hold_' .. h.state)
  end
  return answer({ hold = view(h) })
end

-- ARGV: scheduled, open, delayed, paused or ended.
local function control()
  local to = ARGV[4]
  if not exists() then
    return refuse('unknown_drop')
  end
  if (redis.call('HGET', META, 'control') or 'scheduled') ~= to then
    redis.call('HSET', META, 'control', to)
    emit({ event = 'control_set', at = iso(now), drop = slug, control = to })
  end
  return answer({ done = {} })
end

-- ARGV: sku, total units. Answers the SKU's counts before, for the service's warning.
local function stock()
  local sku, units = ARGV[4], tonumber(ARGV[5])
  if not exists() then
    return refuse('unknown_drop')
  elseif redis.call('HEXISTS', STOCK, sku) == 0 then
    return refuse('unknown_sku')
  end
  local before = counts(sku)
  if before.stock ~= units then
    redis.call('HSET', STOCK, sku, units)
    emit({ event = 'stock_set', at = iso(now), drop = slug, sku = sku, stock = units })
  end
  return answer({ done = { [sku] = before } })
end

-- ARGV: starts (ms), ends (ms or ''), the definition as the event's JSON, then for each SKU:
-- sku, stock ('' for none: the service's number stays), limit ('' for none), checkout URL.
-- What is sold or held stays. Answers every SKU's counts before (none for a new drop).
local function sync()
  local starts, ends, definition = ARGV[4], ARGV[5], ARGV[6]
  local existed = exists()
  local before = {}
  for _, sku in ipairs(redis.call('HKEYS', STOCK)) do
    before[sku] = counts(sku)
  end
  local meta = redis.call('HMGET', META, 'starts', 'ends')
  local same = existed and tonumber(meta[1]) == tonumber(starts) and tonumber(meta[2]) == tonumber(ends)
  for i = 7, #ARGV, 4 do
    local sku, units, limit, url = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    same = same and before[sku] ~= nil and (units == '' or before[sku].stock == tonumber(units))
      and tonumber(redis.call('HGET', LIMIT, sku)) == tonumber(limit)
      and redis.call('HGET', URL, sku) == url
  end
  if not same then
    redis.call('HSET', META, 'starts', starts, 'ends', ends)
    for i = 7, #ARGV, 4 do
      local sku, units, limit, url = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
      if units ~= '' then
        redis.call('HSET', STOCK, sku, units)
      else
        redis.call('HSETNX', STOCK, sku, 0)
      end
      if limit ~= '' then
        redis.call('HSET', LIMIT, sku, limit)
      else
        redis.call('HDEL', LIMIT, sku)
      end
      redis.call('HSET', URL, sku, url)
    end
    append('{"event":"drop_synced","at":' .. cjson.encode(iso(now)) .. ',"drop":' .. cjson.encode(slug)
      .. ',"definition":' .. definition .. '}')
  end
  if existed then
    return answer({ done = before })
  end
  return answer({ new = true })
end

-- Reads: the drop's schedule and every SKU's counts, or one hold.
local function snapshot()
  if not exists() then
    return refuse('unknown_drop')
  end
  local meta = redis.call('HMGET', META, 'starts', 'ends', 'control')
  local skus = {}
  for _, sku in ipairs(redis.call('HKEYS', STOCK)) do
    local c = counts(sku)
    c.limit = tonumber(redis.call('HGET', LIMIT, sku))
    c.checkout_url = redis.call('HGET', URL, sku) or ''
    skus[sku] = c
  end
  return answer({ snapshot = { starts = tonumber(meta[1]), ends = tonumber(meta[2]),
    control = meta[3] or 'scheduled', skus = skus } })
end

local function read()
  local h = read_hold(ARGV[4])
  if not h then
    return refuse('unknown_hold')
  end
  return answer({ hold = view(h) })
end

local changes = { hold = hold, confirm = confirm, release = release, control = control, stock = stock,
  sync = sync, expire = function() return answer({ done = {} }) end }
local reads = { snapshot = snapshot, read = read }

if reads[op] then
  return reads[op]()
elseif changes[op] then
  -- Every change first expires what is due, as the machine's `execute` does.
  expire_due()
  return changes[op]()
end
return redis.error_reply('dropgen inventory script: unknown operation ' .. tostring(op))
