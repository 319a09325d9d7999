/* bus_scripts.c - the Redis directory's Lua scripts, one per enum
 * rv_dir_op (bus.h says what each takes and answers); bus_redis.c loads
 * them and runs them by EVALSHA. Each runs atomically in Redis.
 *
 * Keys (rvserver): rv:nodes (incarnations), rv:node:INC (addr), rv:hb:INC
 * (heartbeat, PX 3000), rv:id:ID (hash: inc, gen of ID's receiver),
 * rv:ids:INC (ids INC holds), rv:g:G:m (G's members), rv:groups, rv:gm:INC
 * ("G ID": the memberships INC owns, reaped with it), rv:ig:ID (hash G ->
 * INC: ID's groups and the node owning each membership: what a login on
 * any node takes over), rv:c:ID (hash: all, contacts, allowed: ID's kept
 * default receivers and allowed senders, --keep-client-info all),
 * rv:home:G and rv:homes:INC (media homes). rvsignal's are under sig:. */
#include "bus.h"
#include "bus_int.h"

const char *const rv__bus_scripts[RV_DIR_COUNT] = {
	[RV_DIR_REGISTER] =
	"local new=redis.call('EXISTS','rv:node:'..ARGV[1])==0\n"
	"redis.call('SADD','rv:nodes',ARGV[1])\n"
	"redis.call('HSET','rv:node:'..ARGV[1],'addr',ARGV[2])\n"
	"redis.call('SET','rv:hb:'..ARGV[1],'1','PX',3000)\n"
	"if new then return 1 end return 0\n",
	/* ARGV INC, ID, GEN, KEEP: the memberships of ID (rv:ig:ID) move to INC */
	[RV_DIR_LOGIN] =
	"local k='rv:id:'..ARGV[2]\n"
	"local old=redis.call('HMGET',k,'inc','gen')\n"
	"redis.call('HSET',k,'inc',ARGV[1],'gen',ARGV[3])\n"
	"redis.call('SADD','rv:ids:'..ARGV[1],ARGV[2])\n"
	"if old[1] and old[1]~=ARGV[1] then redis.call('SREM','rv:ids:'..old[1],ARGV[2]) end\n"
	"local out={old[1] or '',old[2] or '','','',''}\n"
	"if ARGV[4]=='all' then local c=redis.call('HMGET','rv:c:'..ARGV[2],'all','contacts','allowed')\n"
	"  if c[1] then out[3]=c[1] out[4]=c[2] or '' out[5]=c[3] or '' end end\n"
	"local ig='rv:ig:'..ARGV[2]\n"
	"local kv=redis.call('HGETALL',ig)\n"
	"for i=1,#kv,2 do local e=kv[i]..' '..ARGV[2]\n"
	"  if kv[i+1]~=ARGV[1] then redis.call('SREM','rv:gm:'..kv[i+1],e) redis.call('HSET',ig,kv[i],ARGV[1]) end\n"
	"  redis.call('SADD','rv:gm:'..ARGV[1],e)\n"
	"  out[#out+1]=kv[i] out[#out+1]=kv[i+1] end\n"
	"return out\n",
	[RV_DIR_REASSERT] =
	"local k='rv:id:'..ARGV[2]\n"
	"local old=redis.call('HMGET',k,'inc','gen')\n"
	"if old[1] and old[1]~=ARGV[1] and redis.call('EXISTS','rv:hb:'..old[1])==1 then return {old[1],old[2]} end\n"
	"redis.call('HSET',k,'inc',ARGV[1],'gen',ARGV[3])\n"
	"redis.call('SADD','rv:ids:'..ARGV[1],ARGV[2])\n"
	"return {ARGV[1],ARGV[3]}\n",
	[RV_DIR_LOGOUT] =
	"local k='rv:id:'..ARGV[2]\n"
	"if redis.call('HGET',k,'gen')==ARGV[3] then redis.call('DEL',k)\n"
	"  redis.call('SREM','rv:ids:'..ARGV[1],ARGV[2]) end\n"
	"return 0\n",
	[RV_DIR_LISTS] =
	"local c=redis.call('HMGET','rv:c:'..ARGV[1],'all','contacts','allowed')\n"
	"if not c[1] then return {} end\n"
	"return {c[1],c[2] or '',c[3] or ''}\n",
	[RV_DIR_KEEP] =
	"redis.call('HSET','rv:c:'..ARGV[1],'all',ARGV[2],'contacts',ARGV[3],'allowed',ARGV[4])\n"
	"return 0\n",
	/* a membership another node owns (rv:ig:ID) moves there, as at a login */
	[RV_DIR_JOIN] =
	"local m='rv:g:'..ARGV[2]..':m'\n"
	"local ig='rv:ig:'..ARGV[3]\n"
	"local e=ARGV[2]..' '..ARGV[3]\n"
	"local function own() local o=redis.call('HGET',ig,ARGV[2])\n"
	"  if o and o~=ARGV[1] then redis.call('SREM','rv:gm:'..o,e) end\n"
	"  redis.call('SADD','rv:gm:'..ARGV[1],e) redis.call('HSET',ig,ARGV[2],ARGV[1]) end\n"
	"if redis.call('SISMEMBER',m,ARGV[3])==1 then own() return {1,redis.call('SMEMBERS',m)} end\n"
	"local n=redis.call('SCARD',m)\n"
	"if n==0 and tonumber(ARGV[4])>0 and redis.call('SCARD','rv:groups')>=tonumber(ARGV[4]) then return {-1,{}} end\n"
	"if tonumber(ARGV[5])>0 and n>=tonumber(ARGV[5]) then return {-2,{}} end\n"
	"redis.call('SADD',m,ARGV[3])\n"
	"redis.call('SADD','rv:groups',ARGV[2])\n"
	"own()\n"
	"if ARGV[6]~='' then redis.call('PUBLISH','rv:g:'..ARGV[2],ARGV[6]) end\n"
	"return {0,redis.call('SMEMBERS',m)}\n",
	/* only the owner of the membership ends it: another node took it over */
	[RV_DIR_LEAVE] =
	"local m='rv:g:'..ARGV[2]..':m'\n"
	"local ig='rv:ig:'..ARGV[3]\n"
	"local o=redis.call('HGET',ig,ARGV[2])\n"
	"if o and o~=ARGV[1] then return 0 end\n"
	"redis.call('HDEL',ig,ARGV[2])\n"
	"redis.call('SREM','rv:gm:'..ARGV[1],ARGV[2]..' '..ARGV[3])\n"
	"if redis.call('SREM',m,ARGV[3])==0 then return 0 end\n"
	"if redis.call('SCARD',m)==0 then redis.call('SREM','rv:groups',ARGV[2]) end\n"
	"if ARGV[4]~='' then redis.call('PUBLISH','rv:g:'..ARGV[2],ARGV[4]) end\n"
	"return 1\n",
	[RV_DIR_MEMBERS] =
	"local ids=redis.call('SMEMBERS','rv:g:'..ARGV[1]..':m')\n"
	"if #ids==0 then return -1 end\n"
	"local out={}\n"
	"for _,id in ipairs(ids) do out[#out+1]=id out[#out+1]=tostring(redis.call('EXISTS','rv:id:'..id)) end\n"
	"return out\n",
	[RV_DIR_GROUPS] =
	"local names={}\n"
	"if ARGV[1]=='all' then names=redis.call('SMEMBERS','rv:groups') else\n"
	"  names=redis.call('HKEYS','rv:ig:'..ARGV[2]) end\n"
	"local out={}\n"
	"for _,g in ipairs(names) do out[#out+1]=g out[#out+1]=tostring(redis.call('SCARD','rv:g:'..g..':m')) end\n"
	"return out\n",
	[RV_DIR_SWEEP] =
	"local out={}\n"
	"local reaped=0\n"
	"for _,n in ipairs(redis.call('SMEMBERS','rv:nodes')) do\n"
	"  if n~=ARGV[1] and redis.call('EXISTS','rv:hb:'..n)==0 then\n"
	"    reaped=reaped+1\n"
	"    for _,id in ipairs(redis.call('SMEMBERS','rv:ids:'..n)) do\n"
	"      if redis.call('HGET','rv:id:'..id,'inc')==n then redis.call('DEL','rv:id:'..id) end end\n"
	"    if ARGV[2]=='1' then for _,e in ipairs(redis.call('SMEMBERS','rv:gm:'..n)) do\n"
	"      local sp=string.find(e,' ',1,true)\n"
	"      local g=string.sub(e,1,sp-1) local id=string.sub(e,sp+1)\n"
	"      local m='rv:g:'..g..':m'\n"
	"      if redis.call('HGET','rv:ig:'..id,g)==n then redis.call('HDEL','rv:ig:'..id,g) end\n"
	"      if redis.call('SREM',m,id)==1 then\n"
	"        if redis.call('SCARD',m)==0 then redis.call('SREM','rv:groups',g) end\n"
	"        out[#out+1]=n out[#out+1]=g out[#out+1]=id end end end\n"
	"    for _,g in ipairs(redis.call('SMEMBERS','rv:homes:'..n)) do\n"
	"      if redis.call('GET','rv:home:'..g)==n then redis.call('DEL','rv:home:'..g) end end\n"
	"    redis.call('DEL','rv:ids:'..n,'rv:gm:'..n,'rv:node:'..n,'rv:homes:'..n)\n"
	"    redis.call('SREM','rv:nodes',n)\n"
	"  end end\n"
	"return {reaped,out}\n",
	[RV_DIR_WHERE] =
	"local ids={ARGV[3]}\n"
	"if ARGV[2]=='group' then ids=redis.call('SMEMBERS','rv:g:'..ARGV[3]..':m') end\n"
	"for _,id in ipairs(ids) do local o=redis.call('HGET','rv:id:'..id,'inc')\n"
	"  if o and o~=ARGV[1] then return 1 end end\n"
	"return 0\n",
	[RV_DIR_NODES] =
	"local ids={ARGV[3]}\n"
	"if ARGV[2]=='group' then ids=redis.call('SMEMBERS','rv:g:'..ARGV[3]..':m') end\n"
	"local seen={} local out={}\n"
	"for _,id in ipairs(ids) do local o=redis.call('HGET','rv:id:'..id,'inc')\n"
	"  if o and o~=ARGV[1] and not seen[o] and redis.call('EXISTS','rv:hb:'..o)==1 then seen[o]=1\n"
	"    out[#out+1]=o out[#out+1]=redis.call('HGET','rv:node:'..o,'addr') or '' end end\n"
	"return out\n",
	/* ARGV[1] INC, ARGV[2] GROUP; a holder whose heartbeat ran out is no home */
	[RV_DIR_HOME_CLAIM] =
	"local k='rv:home:'..ARGV[2]\n"
	"local o=redis.call('GET',k)\n"
	"if o and o~=ARGV[1] and redis.call('EXISTS','rv:hb:'..o)==1 then\n"
	"  return {o,redis.call('HGET','rv:node:'..o,'addr') or ''} end\n"
	"if o and o~=ARGV[1] then redis.call('SREM','rv:homes:'..o,ARGV[2]) end\n"
	"redis.call('SET',k,ARGV[1])\n"
	"redis.call('SADD','rv:homes:'..ARGV[1],ARGV[2])\n"
	"return {}\n",
	[RV_DIR_HOME_DROP] =
	"local k='rv:home:'..ARGV[2]\n"
	"if redis.call('GET',k)==ARGV[1] then redis.call('DEL',k) end\n"
	"redis.call('SREM','rv:homes:'..ARGV[1],ARGV[2])\n"
	"return 0\n",
	[RV_DIR_HOME] =
	"local o=redis.call('GET','rv:home:'..ARGV[2])\n"
	"if o and o~=ARGV[1] and redis.call('EXISTS','rv:hb:'..o)==1 then\n"
	"  return {o,redis.call('HGET','rv:node:'..o,'addr') or ''} end\n"
	"return {}\n",
	/* rvsignal: sig:nodes, sig:hb:INC, sig:peers:INC (pids), sig:peer:PID (inc, tok,
	 * name), sig:tok:TOKEN (pid), sig:pr:PID (rooms), sig:r:ROOM:m (pid -> name),
	 * sig:q:PID (messages kept for a resume) */
	[RV_DIR_SIG_REGISTER] =
	"local new=redis.call('SADD','sig:nodes',ARGV[1])\n"
	"redis.call('SET','sig:hb:'..ARGV[1],'1','PX',3000)\n"
	"return new\n",
	[RV_DIR_SIG_PEER] =
	"local k='sig:peer:'..ARGV[2]\n"
	"local o=redis.call('HGET',k,'inc')\n"
	"if o and o~=ARGV[1] and redis.call('EXISTS','sig:hb:'..o)==1 then return -1 end\n"
	"redis.call('HSET',k,'inc',ARGV[1],'tok',ARGV[3],'name',ARGV[4])\n"
	"redis.call('SET','sig:tok:'..ARGV[3],ARGV[2])\n"
	"redis.call('SADD','sig:peers:'..ARGV[1],ARGV[2])\n"
	"if o and o~=ARGV[1] then redis.call('SREM','sig:peers:'..o,ARGV[2]) end\n"
	"return 0\n",
	[RV_DIR_SIG_JOIN] =
	"local m='sig:r:'..ARGV[2]..':m'\n"
	"if redis.call('HEXISTS',m,ARGV[3])==1 then return {1} end\n"
	"local n=redis.call('HLEN',m)\n"
	"if tonumber(ARGV[5])>0 and n>=tonumber(ARGV[5]) then return {-2,tostring(n)} end\n"
	"local all=redis.call('HGETALL',m)\n"
	"redis.call('HSET',m,ARGV[3],ARGV[4])\n"
	"redis.call('SADD','sig:pr:'..ARGV[3],ARGV[2])\n"
	"if redis.call('EXISTS','sig:peer:'..ARGV[3])==1 then redis.call('HSET','sig:peer:'..ARGV[3],'name',ARGV[4]) end\n"
	"if ARGV[6]~='' then redis.call('PUBLISH','sig:r:'..ARGV[2],ARGV[6]) end\n"
	"return {0,all}\n",
	[RV_DIR_SIG_LEAVE] =
	"local o=redis.call('HGET','sig:peer:'..ARGV[3],'inc')\n"
	"if o and o~=ARGV[1] then return -1 end\n"
	"redis.call('SREM','sig:pr:'..ARGV[3],ARGV[2])\n"
	"if redis.call('HDEL','sig:r:'..ARGV[2]..':m',ARGV[3])==0 then return 0 end\n"
	"if ARGV[4]~='' then redis.call('PUBLISH','sig:r:'..ARGV[2],ARGV[4]) end\n"
	"return 1\n",
	[RV_DIR_SIG_GONE] =
	"local k='sig:peer:'..ARGV[2]\n"
	"local o=redis.call('HGET',k,'inc')\n"
	"if o and o~=ARGV[1] then return 0 end\n"
	"local t=redis.call('HGET',k,'tok')\n"
	"if t then redis.call('DEL','sig:tok:'..t) end\n"
	"redis.call('DEL',k,'sig:pr:'..ARGV[2],'sig:q:'..ARGV[2])\n"
	"redis.call('SREM','sig:peers:'..ARGV[1],ARGV[2])\n"
	"return 1\n",
	[RV_DIR_SIG_PARK] =
	"if redis.call('HGET','sig:peer:'..ARGV[2],'inc')~=ARGV[1] then return 0 end\n"
	"local q='sig:q:'..ARGV[2]\n"
	"redis.call('RPUSH',q,ARGV[3])\n"
	"redis.call('LTRIM',q,-256,-1)\n"
	"redis.call('PEXPIRE',q,ARGV[4])\n"
	"return 1\n",
	[RV_DIR_SIG_LOOKUP] =
	"local pid=redis.call('GET','sig:tok:'..ARGV[1])\n"
	"if not pid then return {} end\n"
	"local h=redis.call('HMGET','sig:peer:'..pid,'inc','name')\n"
	"if not h[1] then return {} end\n"
	"local out={pid,h[1],h[2] or pid}\n"
	"for _,r in ipairs(redis.call('SMEMBERS','sig:pr:'..pid)) do out[#out+1]=r end\n"
	"return out\n",
	[RV_DIR_SIG_CLAIM] =
	"if redis.call('GET','sig:tok:'..ARGV[2])~=ARGV[3] then return {-1} end\n"
	"local k='sig:peer:'..ARGV[3]\n"
	"local o=redis.call('HGET',k,'inc')\n"
	"if not o then return {-1} end\n"
	"redis.call('HSET',k,'inc',ARGV[1])\n"
	"redis.call('SREM','sig:peers:'..o,ARGV[3])\n"
	"redis.call('SADD','sig:peers:'..ARGV[1],ARGV[3])\n"
	"local q='sig:q:'..ARGV[3]\n"
	"local out=redis.call('LRANGE',q,0,-1)\n"
	"redis.call('DEL',q)\n"
	"redis.call('PUBLISH','sig:p:'..ARGV[3],ARGV[4])\n"
	"return {0,out}\n",
	[RV_DIR_SIG_SWEEP] =
	"local out={}\n"
	"local reaped=0\n"
	"for _,n in ipairs(redis.call('SMEMBERS','sig:nodes')) do\n"
	"  if n~=ARGV[1] and redis.call('EXISTS','sig:hb:'..n)==0 then\n"
	"    reaped=reaped+1\n"
	"    for _,pid in ipairs(redis.call('SMEMBERS','sig:peers:'..n)) do\n"
	"      local k='sig:peer:'..pid\n"
	"      if redis.call('HGET',k,'inc')==n then\n"
	"        for _,r in ipairs(redis.call('SMEMBERS','sig:pr:'..pid)) do\n"
	"          local m='sig:r:'..r..':m'\n"
	"          local name=redis.call('HGET',m,pid)\n"
	"          if name then redis.call('HDEL',m,pid) out[#out+1]=r out[#out+1]=pid out[#out+1]=name end end\n"
	"        local t=redis.call('HGET',k,'tok')\n"
	"        if t then redis.call('DEL','sig:tok:'..t) end\n"
	"        redis.call('DEL',k,'sig:pr:'..pid,'sig:q:'..pid) end end\n"
	"    redis.call('DEL','sig:peers:'..n)\n"
	"    redis.call('SREM','sig:nodes',n)\n"
	"  end end\n"
	"return {reaped,out}\n",
};
