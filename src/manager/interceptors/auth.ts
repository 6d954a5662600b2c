import { createContextKey, type Interceptor } from "@connectrpc/connect";
import { FleetService } from "../../../gen/fleet/v1/fleet_pb.js";
import { ManagerService } from "../../../gen/manager/manager_pb.js";
import { PermissionDeniedError, UnauthenticatedError } from "../../common/errors.js";
import type { Logger } from "../../common/logging.js";
import { createTokenCheck } from "../bearer-token.js";
import type { PeerIdentity } from "../tls.js";
import { checkingInterceptor } from "./check.js";

/** The verified client certificate's identity, set per request from the TLS socket. */
export const peerIdentityKey = createContextKey<PeerIdentity | undefined>(undefined, {
  description: "fleet peer identity",
});

export interface AuthOptions {
  /** FleetService bearer token; "" = open (loopback only, see insecureListenerProblem). */
  apiToken: string;
  /** ManagerService bearer token; "" = not required. */
  enrollToken: string;
  /** Client certificates are required and node_id must match theirs. */
  bindNodeIdentity: boolean;
  logger: Logger;
}

/**
 * Authentication and node identity for every RPC, before validation:
 * ManagerService needs the enrollment token when one is set, and with mTLS
 * its node_id must be the certificate's (PERMISSION_DENIED, logged with both
 * names); FleetService needs the API token when one is set. Health is open.
 */
export function createAuthInterceptor(opts: AuthOptions): Interceptor {
  const enrollOk = opts.enrollToken ? createTokenCheck(opts.enrollToken) : undefined;
  const apiOk = opts.apiToken ? createTokenCheck(opts.apiToken) : undefined;
  return checkingInterceptor((req) => {
    if (req.service.typeName === ManagerService.typeName) {
      if (enrollOk && !enrollOk(req.header.get("authorization"))) {
        throw new UnauthenticatedError(
          req.header.has("authorization")
            ? "authorization: invalid enrollment token"
            : "authorization: missing; send Bearer <enrollment token> (daemon manager.token_file)",
        );
      }
      if (opts.bindNodeIdentity && !req.stream) {
        const peer = req.contextValues.get(peerIdentityKey);
        const nodeId = (req.message as { nodeId?: unknown }).nodeId;
        if (!peer?.nodeId || peer.nodeId !== nodeId) {
          opts.logger.warn(
            {
              procedure: req.method.name,
              nodeId,
              certificate: peer?.subject ?? "(none)",
              certificateNodeId: peer?.nodeId,
            },
            "node_id does not match the client certificate",
          );
          throw new PermissionDeniedError(
            peer?.nodeId
              ? `node_id: "${String(nodeId)}" is not the client certificate's node "${peer.nodeId}"`
              : `node_id: the client certificate (${peer?.subject ?? "none"}) names no single node (SAN URI spiffe://fleet/node/<node_id> or CN)`,
            "node_id",
          );
        }
      }
    } else if (req.service.typeName === FleetService.typeName) {
      if (apiOk && !apiOk(req.header.get("authorization"))) {
        throw new UnauthenticatedError(
          req.header.has("authorization")
            ? "authorization: invalid API token"
            : "authorization: missing; send Bearer <FLEET_API_TOKEN>",
        );
      }
    }
  });
}
