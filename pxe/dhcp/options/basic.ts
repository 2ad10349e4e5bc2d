// The options every DHCP exchange uses, RFC 2132 (section per option below).
import {
  bytesOption,
  ipv4ListOption,
  ipv4Option,
  textOption,
  uint16Option,
  uint32Option,
  uint8ListOption,
  uint8Option,
} from './codec.ts';

export const SubnetMask = ipv4Option(1, 'subnet-mask'); // §3.3
export const Routers = ipv4ListOption(3, 'routers'); // §3.5
export const DomainNameServers = ipv4ListOption(6, 'domain-name-servers'); // §3.8
export const HostName = textOption(12, 'host-name'); // §3.14
export const DomainName = textOption(15, 'domain-name'); // §3.17
export const BroadcastAddress = ipv4Option(28, 'broadcast-address'); // §5.3
export const RequestedIp = ipv4Option(50, 'requested-ip-address'); // §9.1
export const LeaseTime = uint32Option(51, 'ip-address-lease-time'); // §9.2
export const MessageType = uint8Option(53, 'dhcp-message-type'); // §9.6
export const ServerId = ipv4Option(54, 'server-identifier'); // §9.7
export const ParameterRequestList = uint8ListOption(55, 'parameter-request-list'); // §9.8
/** §9.10: at least 576; seen from 576 to 65280 on real firmware, absent from dhclient. */
export const MaxMessageSize = uint16Option(57, 'maximum-dhcp-message-size');
export const RenewalTime = uint32Option(58, 'renewal-time'); // §9.11 (T1)
export const RebindingTime = uint32Option(59, 'rebinding-time'); // §9.12 (T2)
/** §9.14: a type byte (1 = Ethernet, RFC 1700 hardware types) then the identifier. */
export const ClientId = bytesOption(61, 'client-identifier');
export const TftpServerName = textOption(66, 'tftp-server-name'); // §9.4
export const BootfileName = textOption(67, 'bootfile-name'); // §9.5

/** Values of option 53: RFC 2132 §9.6, FORCERENEW RFC 3203, the LEASEQUERY family RFC 4388 §6.1. */
export const MSG = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
  ForceRenew: 9,
  LeaseQuery: 10,
  LeaseUnassigned: 11,
  LeaseUnknown: 12,
  LeaseActive: 13,
} as const;
export type MessageTypeCode = (typeof MSG)[keyof typeof MSG];
