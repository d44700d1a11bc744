/** The NATS subjects relay nodes talk on, in one place so every node spells them alike. */

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Ids become subject tokens; anything with dots or wildcards would route elsewhere. */
function token(kind: string, value: string): string {
  if (!TOKEN.test(value)) throw new Error(`${kind} "${value}" cannot be used in a NATS subject`);
  return value;
}

/**
 * Subject names. Routing to an agent needs no lookup: the node that holds it
 * subscribes to its dial subject, and NATS answers "no responders" when none does.
 *
 * @example
 * ```ts
 * nc.subscribe(Subjects.agentDial(machineId), { callback });
 * ```
 */
export const Subjects = {
  /** Request: the holder of this agent asks it to dial back for a session. */
  agentDial: (machineId: string) => `cmdop.agent.${token("machine id", machineId)}.dial`,
  /** Broadcast when a node takes an agent, so others drop a stale hold on it. */
  agentAttached: (machineId: string) => `cmdop.agent.${token("machine id", machineId)}.attached`,
  /** An agent's answer to a ping that reached a node other than its holder. */
  agentHeartbeat: (machineId: string) => `cmdop.agent.${token("machine id", machineId)}.heartbeat`,
  /** Every forwarded heartbeat: each node keeps those of the agents it holds. */
  allAgentHeartbeats: "cmdop.agent.*.heartbeat",
  /** Request: the node that got the agent's dial-back asks the waiting node to take it. */
  sessionClaim: (sessionId: string) => `cmdop.session.${token("session id", sessionId)}.claim`,
  /** Client to agent frames of one bridged session. */
  sessionIn: (sessionId: string) => `cmdop.session.${token("session id", sessionId)}.in`,
  /** Agent to client frames of one bridged session. */
  sessionOut: (sessionId: string) => `cmdop.session.${token("session id", sessionId)}.out`,
  /** Request: a half-duplex session's input call, to the node holding its output stream. */
  sessionInput: (sessionId: string) => `cmdop.session.${token("session id", sessionId)}.input`,
  /** A node's "still here", a few times per second. */
  nodeAlive: (instanceId: string) => `cmdop.node.${token("instance id", instanceId)}.alive`,
  /** A node's goodbye on orderly shutdown. */
  nodeGone: (instanceId: string) => `cmdop.node.${token("instance id", instanceId)}.gone`,
  /** Every node's liveness messages. */
  allNodes: "cmdop.node.*.*",
};
