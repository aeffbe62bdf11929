/**
 * The simulated fleet: servers and the phones on them, generated from the seed. Phones are kept once, in
 * one array in the order the list API returns them (newest first) and in a map by ID, so a page of the list
 * is a slice (or one filtered pass that copies only the page), and a detail read is a map lookup. Wire
 * objects are rendered per response from a compact record, which keeps 100,000 phones small.
 */
import type { PhoneStatus, TrafficType, WirePhone, WirePhoneDetail } from '../cph/wire.js';
import { SeededRandom } from './random.js';

export interface FleetOptions {
  phones: number;
  seed: number;
  /** Phones per server (default 8): a server is a pool's unit. */
  phonesPerServer?: number;
  /** Pool names; server k belongs to pools[k % pools.length] (default a, b, c, d). */
  pools?: readonly string[];
  initialTrafficType?: TrafficType;
  /** Fixed so that bodies are identical for a seed; the newest phone is created at this instant. */
  newestCreateTime?: number;
  /** IDs given to the newest phones, in list order (e.g. the published example 631056bfb66b4f4ea02ba25f04830cb4). */
  fixedPhoneIds?: readonly string[];
}

export interface SimPhone {
  readonly phoneId: string;
  readonly phoneName: string;
  readonly serverId: string;
  readonly pool: string;
  readonly index: number;
  readonly createTime: number;
  status: PhoneStatus;
  trafficType: TrafficType;
  updateTime: number;
  /** The job currently changing this phone's route, if any. */
  runningJobId?: string | undefined;
  /** Rendered times, cached: formatting dates dominates list rendering otherwise. */
  createTimeText?: string;
  updateTimeText?: [number, string];
  /** Status to return to when a restarting route job ends (restartOnRouteChange). */
  statusBeforeJob?: PhoneStatus | undefined;
}

export interface PhoneFilter {
  phoneName?: string;
  serverId?: string;
  status?: number;
  type?: number;
}

/** `YYYY-MM-DDTHH:MM:SSZ`, the CPH time format. */
export function cphTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const phoneModels = ['kvm.4u8g', 'kvm.2u4g', 'kvm.8u16g'];

export class Fleet {
  /** Newest first: the list API's order. */
  readonly phones: SimPhone[] = [];
  private readonly byId = new Map<string, SimPhone>();
  /** Phones of each server, newest first: a server_id filter scans only these. */
  private readonly byServer = new Map<string, SimPhone[]>();
  /**
   * Filtered paging without rescanning the fleet per page: per filter, the total and where each page
   * boundary already seen starts in the scanned array. Valid while `version` (bumped by every status
   * change, the only mutable field a filter reads) is unchanged.
   */
  private readonly scans = new Map<string, { version: number; total: number; cursors: Map<number, number> }>();
  private version = 0;
  readonly serverIds: string[] = [];
  private readonly imageId: string;
  private readonly orderId: string;
  private readonly productId: string;

  constructor(options: FleetOptions) {
    const random = new SeededRandom(options.seed);
    const perServer = Math.max(1, options.phonesPerServer ?? 8);
    const pools = options.pools && options.pools.length > 0 ? options.pools : ['a', 'b', 'c', 'd'];
    const newest = options.newestCreateTime ?? Date.UTC(2025, 0, 1, 0, 0, 0);
    const width = Math.max(5, String(options.phones).length);
    const initial = options.initialTrafficType ?? 'direct';
    this.imageId = random.hex(32);
    this.orderId = `CS${random.hex(16).toUpperCase()}`;
    this.productId = random.hex(32);
    const serverCount = Math.ceil(options.phones / perServer);
    for (let s = 0; s < serverCount; s++) this.serverIds.push(random.hex(32));
    // Phone i (0 = oldest) is created 60 s after phone i-1; the array holds them newest first.
    const oldest = newest - (options.phones - 1) * 60_000;
    const created: SimPhone[] = [];
    const fixedIds = new Set<string>();
    for (const id of options.fixedPhoneIds ?? []) {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id))
        throw new Error(`fixed phone ID ${JSON.stringify(id)} is not 1..32 of A-Za-z0-9_-`);
      if (fixedIds.has(id)) throw new Error(`fixed phone ID ${id} given twice`);
      fixedIds.add(id);
    }
    for (let i = 0; i < options.phones; i++) {
      // Built oldest first: phone i is number (phones - 1 - i) in list order. A fixed ID still consumes
      // its random draw, so the other phones keep the IDs they have without fixed ones.
      const fixed = options.fixedPhoneIds?.[options.phones - 1 - i];
      let phoneId = random.hex(32);
      while (this.byId.has(phoneId) || fixedIds.has(phoneId)) phoneId = random.hex(32);
      if (fixed !== undefined) phoneId = fixed;
      const server = Math.floor(i / perServer);
      const pool = pools[server % pools.length] as string;
      const createTime = oldest + i * 60_000;
      const phone: SimPhone = {
        phoneId,
        phoneName: `pool-${pool}-${String(i + 1).padStart(width, '0')}`,
        serverId: this.serverIds[server] as string,
        pool,
        index: i,
        createTime,
        status: 2,
        trafficType: initial,
        updateTime: createTime,
      };
      created.push(phone);
      this.byId.set(phoneId, phone);
    }
    for (let i = created.length - 1; i >= 0; i--) {
      const phone = created[i] as SimPhone;
      this.phones.push(phone);
      const onServer = this.byServer.get(phone.serverId);
      if (onServer) onServer.push(phone);
      else this.byServer.set(phone.serverId, [phone]);
    }
  }

  /** Changes a phone's status; every status change must come through here (it invalidates scans). */
  setStatus(phone: SimPhone, status: PhoneStatus): void {
    if (phone.status === status) return;
    phone.status = status;
    this.version++;
  }

  get size(): number {
    return this.phones.length;
  }

  get(phoneId: string): SimPhone | undefined {
    return this.byId.get(phoneId);
  }

  /** One page of the phones matching `filter`, and how many match in all. Copies only the page. */
  list(filter: PhoneFilter, offset: number, limit: number): { count: number; page: SimPhone[] } {
    const unfiltered =
      filter.phoneName === undefined &&
      filter.serverId === undefined &&
      filter.status === undefined &&
      filter.type === undefined;
    if (unfiltered) return { count: this.phones.length, page: this.phones.slice(offset, offset + limit) };
    if (filter.type !== undefined && filter.type !== 0) return { count: 0, page: [] };
    const source = filter.serverId !== undefined ? (this.byServer.get(filter.serverId) ?? []) : this.phones;
    const matches = (phone: SimPhone): boolean =>
      (filter.status === undefined || phone.status === filter.status) &&
      (filter.phoneName === undefined || phone.phoneName.includes(filter.phoneName));
    const key = `${filter.phoneName ?? ''}\u0000${filter.serverId ?? ''}\u0000${filter.status ?? ''}`;
    let scan = this.scans.get(key);
    if (scan && scan.version !== this.version) scan = undefined;
    const page: SimPhone[] = [];
    const start = scan?.cursors.get(offset);
    if (scan && start !== undefined) {
      // Continue from a known page boundary: touch only this page's stretch of the array.
      let i = start;
      for (; i < source.length && page.length < limit; i++) {
        const phone = source[i] as SimPhone;
        if (matches(phone)) page.push(phone);
      }
      this.remember(scan, offset + page.length, i);
      return { count: scan.total, page };
    }
    let count = 0;
    let next = -1;
    for (let i = 0; i < source.length; i++) {
      const phone = source[i] as SimPhone;
      if (!matches(phone)) continue;
      if (count >= offset && page.length < limit) {
        page.push(phone);
        if (page.length === limit) next = i + 1;
      }
      count++;
    }
    if (this.scans.size >= 32) this.scans.clear();
    scan = { version: this.version, total: count, cursors: new Map() };
    this.scans.set(key, scan);
    if (next >= 0) this.remember(scan, offset + limit, next);
    return { count, page };
  }

  private remember(scan: { cursors: Map<number, number> }, offset: number, index: number): void {
    if (scan.cursors.size >= 10_000) scan.cursors.clear();
    scan.cursors.set(offset, index);
  }

  render(phone: SimPhone): WirePhone {
    return {
      phone_name: phone.phoneName,
      server_id: phone.serverId,
      phone_id: phone.phoneId,
      phone_model_name: phoneModels[phone.index % phoneModels.length] as string,
      image_id: this.imageId,
      image_version: '12',
      vnc_enable: 'false',
      status: phone.status,
      type: 0,
      imei: String(860000000000000 + phone.index),
      traffic_type: phone.trafficType,
      volume_mode: 0,
      availability_zone: 'cn-east-3a',
      metadata: { order_id: this.orderId, product_id: this.productId },
      has_encrypt: false,
      create_time: (phone.createTimeText ??= cphTime(phone.createTime)),
      update_time: this.updateTimeText(phone),
    };
  }

  private updateTimeText(phone: SimPhone): string {
    const cached = phone.updateTimeText;
    if (cached && cached[0] === phone.updateTime) return cached[1];
    const text = cphTime(phone.updateTime);
    phone.updateTimeText = [phone.updateTime, text];
    return text;
  }

  renderDetail(phone: SimPhone, requestId: string): WirePhoneDetail {
    const octet3 = (phone.index >> 8) & 0xff;
    const octet4 = phone.index & 0xff;
    return {
      ...this.render(phone),
      request_id: requestId,
      access_infos: [
        {
          type: 'droid_vnc',
          device_ip: `172.16.${octet3}.${octet4}`,
          phone_ip: `172.17.${octet3}.${octet4}`,
          listen_port: 5901,
          access_ip: `192.168.${octet3}.${octet4}`,
          public_ip: '',
          intranet_ip: `10.0.${octet3}.${octet4}`,
          access_port: 30000 + (phone.index % 30000),
        },
      ],
      property: JSON.stringify({ 'com.cph.mainkeys': 0, 'ro.permission.changed': 0 }),
      phone_data_volume: {
        volume_type: 'SSD',
        volume_size: 16,
        volume_id:
          phone.phoneId.slice(0, 8) +
          '-' +
          phone.phoneId.slice(8, 12) +
          '-' +
          phone.phoneId.slice(12, 16) +
          '-' +
          phone.phoneId.slice(16, 20) +
          '-' +
          phone.phoneId.slice(20),
        volume_name: `data-${phone.phoneName}`,
        created_at: cphTime(phone.createTime),
        updated_at: cphTime(phone.createTime),
      },
    };
  }
}
