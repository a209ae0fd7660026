/**
 * The v2 store that a restored etcd 3.4 member's `.snap` file carries: etcd's
 * `v2store.New("/0", "/1")` after `RaftCluster.AddMember` for every member of the new cluster,
 * serialised as Go's `json.Marshal(store.Clone())` does (etcdserver/api/v2store). The restore
 * writes nothing else into it, so only what member creation produces is modelled:
 *
 *   {"Root": node "/" with dirs "/0" (members) and "/1" (keys, empty),
 *    "WatcherHub":{"EventHistory":{"Queue":{"Events":[1000 slots, null when empty],
 *        "Size","Front","Back","Capacity":1000},"StartIndex","LastIndex"}},
 *    "CurrentIndex": number of members, "Stats":{…,"createSuccess": number of members,…},
 *    "CurrentVersion":2}
 *
 * Member i (1-based, in ascending member id order) is created at store index i as
 * `/0/members/<id hex>/raftAttributes` = `{"peerURLs":[…]}`; the directories on the way are
 * created with that index when missing. A node encodes as
 * `{"Path","CreatedIndex","ModifiedIndex","ExpireTime":"0001-01-01T00:00:00Z","Value","Children"}`
 * with Children a map (keys sorted, as Go sorts map keys) for a directory and null for a value.
 */

/** Go's encoding/json string encoding (with its default HTML-safe escaping). */
export function goJsonString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"') out += '\\"';
    else if (char === "\\") out += "\\\\";
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (code < 0x20 || char === "<" || char === ">" || char === "&" || code === 0x2028 || code === 0x2029) {
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    } else if (code >= 0xd800 && code <= 0xdfff) out += "\\ufffd"; // a lone surrogate is invalid UTF-8 to Go
    else out += char;
  }
  return `${out}"`;
}

function goJsonStrings(list: readonly string[]): string {
  return `[${list.map(goJsonString).join(",")}]`;
}

/** A member of the cluster being bootstrapped. */
export interface BootstrapMember {
  id: bigint;
  name: string;
  /** Sorted, as etcd's types.URLs are. */
  peerURLs: readonly string[];
}

/** Go's types.ID.String(): lower-case hex without leading zeros. */
export function memberIdHex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16);
}

/** `json.Marshal(membership.Member)` with no client URLs and not a learner (the ConfChange context). */
export function memberJson(member: BootstrapMember): string {
  let text = `{"id":${BigInt.asUintN(64, member.id).toString(10)},"peerURLs":${goJsonStrings(member.peerURLs)}`;
  if (member.name !== "") text += `,"name":${goJsonString(member.name)}`;
  return `${text}}`;
}

/** `json.Marshal(membership.RaftAttributes)` of a voting member. */
export function raftAttributesJson(member: BootstrapMember): string {
  return `{"peerURLs":${goJsonStrings(member.peerURLs)}}`;
}

/** Events the store's history keeps (v2store's `newWatchHub(1000)`). */
const EVENT_HISTORY_CAPACITY = 1000;
const ZERO_TIME = '"0001-01-01T00:00:00Z"';

interface StoreNode {
  path: string;
  createdIndex: number;
  value: string;
  /** Undefined for a key-value node. */
  children: Map<string, StoreNode> | undefined;
}

function dirNode(path: string, index: number): StoreNode {
  return { path, createdIndex: index, value: "", children: new Map() };
}

function nodeJson(node: StoreNode): string {
  let children = "null";
  if (node.children !== undefined) {
    const names = [...node.children.keys()].sort();
    children = `{${names.map((name) => `${goJsonString(name)}:${nodeJson(node.children!.get(name)!)}`).join(",")}}`;
  }
  // Nodes are never modified after creation here, so ModifiedIndex equals CreatedIndex.
  return (
    `{"Path":${goJsonString(node.path)},"CreatedIndex":${node.createdIndex},"ModifiedIndex":${node.createdIndex},` +
    `"ExpireTime":${ZERO_TIME},"Value":${goJsonString(node.value)},"Children":${children}}`
  );
}

/** Creates the directories of `path` that are missing (with `index`) and returns the parent. */
function ensureParent(root: StoreNode, path: string, index: number): StoreNode {
  const parts = path.split("/").filter((p) => p !== "");
  let node = root;
  let at = "";
  for (const part of parts.slice(0, -1)) {
    at += `/${part}`;
    let child = node.children!.get(part);
    if (child === undefined) {
      child = dirNode(at, index);
      node.children!.set(part, child);
    }
    node = child;
  }
  return node;
}

/** The JSON etcd 3.4's restore puts into the .snap file for these members (ascending id order). */
export function membershipStoreJson(members: readonly BootstrapMember[]): string {
  const root = dirNode("/", 0);
  root.children!.set("0", dirNode("/0", 0));
  root.children!.set("1", dirNode("/1", 0));
  const slots: (string | null)[] = new Array<string | null>(EVENT_HISTORY_CAPACITY).fill(null);
  let size = 0;
  let front = 0;
  let back = 0;
  let index = 0;
  for (const member of members) {
    index++;
    const key = `/0/members/${memberIdHex(member.id)}/raftAttributes`;
    const value = raftAttributesJson(member);
    const parent = ensureParent(root, key, index);
    parent.children!.set("raftAttributes", { path: key, createdIndex: index, value, children: undefined });
    // eventQueue.insert: a ring of Capacity slots that drops the oldest event when full.
    slots[back] = `{"action":"create","node":{"key":${goJsonString(key)},"value":${goJsonString(value)},"modifiedIndex":${index},"createdIndex":${index}}}`;
    back = (back + 1) % EVENT_HISTORY_CAPACITY;
    if (size === EVENT_HISTORY_CAPACITY) front = (front + 1) % EVENT_HISTORY_CAPACITY;
    else size++;
  }
  // StartIndex is the index of the event at Front; events are created at indexes 1..n.
  const startIndex = size === 0 ? 0 : index - size + 1;
  const events = slots.map((slot) => slot ?? "null").join(",");
  const stats = [
    ["getsSuccess", 0], ["getsFail", 0], ["setsSuccess", 0], ["setsFail", 0], ["deleteSuccess", 0], ["deleteFail", 0],
    ["updateSuccess", 0], ["updateFail", 0], ["createSuccess", index], ["createFail", 0], ["compareAndSwapSuccess", 0],
    ["compareAndSwapFail", 0], ["compareAndDeleteSuccess", 0], ["compareAndDeleteFail", 0], ["expireCount", 0], ["watchers", 0],
  ] as const;
  return (
    `{"Root":${nodeJson(root)},"WatcherHub":{"EventHistory":{"Queue":{"Events":[${events}],` +
    `"Size":${size},"Front":${front},"Back":${back},"Capacity":${EVENT_HISTORY_CAPACITY}},"StartIndex":${startIndex},"LastIndex":${index}}},` +
    `"CurrentIndex":${index},"Stats":{${stats.map(([name, n]) => `"${name}":${n}`).join(",")}},"CurrentVersion":2}`
  );
}
