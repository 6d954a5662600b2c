import { probeProtocol, speaksTls } from "../../common/protocol-probe.js";

/**
 * One line an operator can act on when a call failed below gRPC: the address
 * is the manager's HTTP port, or TLS on one side only. Undefined when the
 * probes find nothing wrong with the protocol (then the call's own error is
 * the explanation).
 */
export async function explainProtocolMismatch(
  address: string,
  host: string,
  port: number,
  daemonUsesTls: boolean,
): Promise<string | undefined> {
  const found = await probeProtocol(host, port);
  if (found === "http1")
    return `manager.address ${address} answers HTTP/1.1, so it is not the manager's gRPC port (it looks like its HTTP port: dashboard, /metrics, Connect API); point manager.address at the gRPC port (the manager's FLEET_GRPC_ADDR, default 127.0.0.1:9090)`;
  if (!daemonUsesTls && found !== "h2c" && found !== "unreachable" && (await speaksTls(host, port)))
    return `manager.address ${address} speaks TLS (the manager sets FLEET_TLS_CERT/FLEET_TLS_KEY) but this daemon speaks plaintext because manager.tls is not set: set manager.tls.cert_file, key_file and ca_file`;
  if (daemonUsesTls && found === "h2c")
    return `manager.address ${address} speaks plaintext gRPC (the manager has no FLEET_TLS_CERT/FLEET_TLS_KEY) but this daemon speaks TLS because manager.tls is set: remove manager.tls from this daemon, or give the manager its certificate (FLEET_TLS_CERT, FLEET_TLS_KEY, FLEET_TLS_CLIENT_CA)`;
  return undefined;
}
