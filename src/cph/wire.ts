/**
 * The CPH API's JSON, exactly as it travels (snake_case, ../shared/cph-api.md). The client parses untrusted
 * bodies into these types (src/cph/parse.ts) and the simulator renders them; nothing else touches the wire.
 */

export type TrafficType = 'direct' | 'routing';
export const trafficTypes: readonly TrafficType[] = ['direct', 'routing'];

/** Phone status codes: 1 creating, 2 running, 3 resetting, 4 restarting, 6 frozen, 7 stopping, 8 stopped, negatives are failures. */
export type PhoneStatus = number;

export interface WirePhone {
  phone_name: string;
  server_id: string;
  phone_id: string;
  phone_model_name: string;
  image_id: string;
  image_version: string;
  vnc_enable: string;
  status: PhoneStatus;
  type: number;
  imei: string;
  traffic_type: TrafficType;
  volume_mode: number;
  availability_zone: string;
  metadata: { order_id: string; product_id: string };
  has_encrypt: boolean;
  create_time: string;
  update_time: string;
}

/** ShowCloudPhoneDetail adds these to a phone. */
export interface WirePhoneDetail extends WirePhone {
  request_id: string;
  access_infos: Array<{
    type: string;
    device_ip: string;
    phone_ip: string;
    listen_port: number;
    access_ip: string;
    public_ip: string;
    intranet_ip: string;
    access_port: number;
  }>;
  property: string;
  phone_data_volume: {
    volume_type: string;
    volume_size: number;
    volume_id: string;
    volume_name: string;
    created_at: string;
    updated_at: string;
  } | null;
}

export interface WireListPhonesResponse {
  request_id: string;
  count: number;
  phones: WirePhone[];
}

/** One entry of a phones-traffic answer: a job, or a per-phone error inside the 200. */
export interface WirePhoneJob {
  phone_id: string;
  job_id?: string | null;
  error_code?: string | null;
  error_msg?: string | null;
}

export interface WireTrafficRequest {
  traffic_type: TrafficType;
  phone_ids: string[];
}

export interface WireTrafficResponse {
  request_id: string;
  jobs: WirePhoneJob[];
}

/** Job status: 1 running, 2 succeeded, -1 failed. */
export type JobStatus = 1 | 2 | -1;

export interface WireJob {
  request_id?: string;
  job_id: string;
  begin_time: string | null;
  end_time: string | null;
  status: JobStatus;
  phone_id: string;
  server_id: string;
  error_code: string | null;
  error_msg: string | null;
  execute_msg: string | null;
}

export interface WireShowJobResponse extends WireJob {
  request_id: string;
}

export interface WireListJobsResponse {
  request_id: string;
  jobs: WireJob[];
}

/** CPH's error body; the Go SDK also reads `{ error: { code, message } }`. */
export interface WireErrorBody {
  request_id?: string;
  error_code?: string;
  error_msg?: string;
  error?: { code?: string; message?: string };
}

export interface WireIamTokenResponse {
  token: { expires_at: string; issued_at?: string; methods?: string[] };
}
