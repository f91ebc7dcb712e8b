# The orc test cluster's layout and the Ansible YAML inventory written for it.
#
# Loaded by the Vagrantfile; also runnable alone (no Vagrant needed), which is how the tests check
# that what it writes is what orc's inventory loader reads:
#
#   ruby vagrant/inventory.rb COUNT PROVIDER VAGRANT_DIR [SUBNET]    # prints the inventory YAML
require "json"

module OrcVagrant
  DEFAULT_COUNT = 3
  DEFAULT_SUBNET = "192.168.56" # VirtualBox's default host-only range; libvirt creates it as needed
  RACKS = 2
  INVENTORY_NAME = "inventory.yaml"
  KNOWN_HOSTS_NAME = "known_hosts"

  Node = Struct.new(:name, :ip, :rack)

  def self.count(env = ENV)
    raw = env.fetch("ORC_VAGRANT_HOSTS", DEFAULT_COUNT.to_s)
    n = Integer(raw, exception: false)
    raise ArgumentError, "ORC_VAGRANT_HOSTS=#{raw.inspect}: must be a number from 1 to 50" unless n && n.between?(1, 50)
    n
  end

  def self.subnet(env = ENV)
    value = env.fetch("ORC_VAGRANT_SUBNET", DEFAULT_SUBNET)
    unless value.match?(/\A\d{1,3}\.\d{1,3}\.\d{1,3}\z/)
      raise ArgumentError, "ORC_VAGRANT_SUBNET=#{value.inspect}: give the first three octets, e.g. 192.168.56"
    end
    value
  end

  # orc-1 .. orc-N at SUBNET.11 .., spread over RACKS racks (r1, r2, r1, ...).
  def self.nodes(count, subnet)
    (1..count).map { |i| Node.new("orc-#{i}", "#{subnet}.#{10 + i}", "r#{(i - 1) % RACKS + 1}") }
  end

  # Where `vagrant up` leaves the key it generated for a machine.
  def self.key_path(vagrant_dir, name, provider)
    File.join(vagrant_dir, ".vagrant", "machines", name, provider.to_s, "private_key")
  end

  def self.q(text)
    JSON.generate(text.to_s) # a JSON string is a valid YAML double-quoted scalar
  end

  def self.inventory_yaml(nodes, provider, vagrant_dir)
    lines = [
      "# Written by vagrant/Vagrantfile after `vagrant up` (and rewritten on every up, reload and destroy).",
      "# Ansible YAML inventory: use it with `orc -i vagrant/inventory.yaml ...` or ansible -i.",
      "all:",
      "  children:",
      "    vagrant:",
      "      vars:",
      "        orc_known_hosts_file: #{q(File.join(vagrant_dir, KNOWN_HOSTS_NAME))}",
      "      hosts:",
    ]
    nodes.each do |node|
      lines.concat([
        "        #{node.name}:",
        "          ansible_host: #{q(node.ip)}",
        "          ansible_user: vagrant",
        "          ansible_ssh_private_key_file: #{q(key_path(vagrant_dir, node.name, provider))}",
        "          ansible_become: true",
        "          labels:",
        "            rack: #{q(node.rack)}",
        "            provider: #{q(provider)}",
      ])
    end
    lines.join("\n") + "\n"
  end

  # Write (or, with no nodes left, remove) VAGRANT_DIR/inventory.yaml. Returns the path.
  def self.write_inventory(nodes, provider, vagrant_dir)
    path = File.join(vagrant_dir, INVENTORY_NAME)
    if nodes.empty?
      File.delete(path) if File.exist?(path)
    else
      tmp = "#{path}.tmp"
      File.write(tmp, inventory_yaml(nodes, provider, vagrant_dir))
      File.rename(tmp, path)
    end
    path
  end

  # A destroyed VM comes back with new host keys: forget the old ones for its address.
  def self.forget_host_key(vagrant_dir, ip)
    path = File.join(vagrant_dir, KNOWN_HOSTS_NAME)
    return unless File.exist?(path)
    kept = File.readlines(path).reject do |line|
      hosts = line.split(" ", 2).first.to_s.split(",")
      hosts.include?(ip) || hosts.any? { |h| h.start_with?("[#{ip}]:") }
    end
    File.write(path, kept.join)
  end
end

if __FILE__ == $PROGRAM_NAME
  unless ARGV.length.between?(3, 4)
    warn "usage: ruby inventory.rb COUNT PROVIDER VAGRANT_DIR [SUBNET]"
    exit 2
  end
  count = OrcVagrant.count("ORC_VAGRANT_HOSTS" => ARGV[0])
  subnet = OrcVagrant.subnet("ORC_VAGRANT_SUBNET" => ARGV[3] || OrcVagrant::DEFAULT_SUBNET)
  print OrcVagrant.inventory_yaml(OrcVagrant.nodes(count, subnet), ARGV[1], ARGV[2])
end
